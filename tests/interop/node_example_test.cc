// examples/node behind the real tether, for both servers: node:http alone and Express 5. When a client leaves
// (curl's --max-time, a TCP reset, an HTTP/2 RST_STREAM over h2c or h2/TLS: tether then closes its HTTP/1.1
// connection to Node), the proof is the app's own log: the response's 'close' fired before it finished and aborted
// the request's AbortController (`request cancelled id=<id>`), and tether wrote exactly one request_cancelled line
// with the phase, the departure's reason and the client's protocol. The CPU loop (yielding to the event loop), the
// fetch() that carries the signal (aborted, and the downstream's own 'close' fires) and the negative each have a
// test.
//
// The delay from tether's request_cancelled to the app's line is printed (RecordProperty "cancel_delay_ms") and
// bounded at 5 s (example_departure.h), a guard against "never" only (measured: examples/node/README.md).
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "example_app.h"
#include "example_departure.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

enum class Server { kNodeHttp, kExpress };
const char* name(Server server) { return server == Server::kNodeHttp ? "NodeHttp" : "Express"; }
const char* script(Server server) { return server == Server::kNodeHttp ? "http-server.js" : "express-server.js"; }

std::string nodeMissing() {
  return missingFiles({TETHER_NODE, std::string(TETHER_NODE_EXAMPLE_DIR) + "/node_modules/express/package.json"});
}
#define REQUIRE_NODE_EXAMPLE() TETHER_REQUIRE_RUNTIME(nodeMissing())

std::vector<std::string> nodeApp(Server server) {
  return {TETHER_NODE, std::string(TETHER_NODE_EXAMPLE_DIR) + "/" + script(server), "--listen", "127.0.0.1:0"};
}

TetherOptions behindTether(const ExampleApp& app, ClientProtocol client) {
  return forClient(TetherOptions::proxyTo({app.endpoint()}), client);
}

class NodeExampleDeparture : public ::testing::TestWithParam<std::tuple<Server, Departure>> {};

TEST_P(NodeExampleDeparture, CloseFiresWhenTheClientLeaves) {
  REQUIRE_NODE_EXAMPLE();
  const auto [server, departure] = GetParam();
  ExampleApp app(nodeApp(server));
  TetherInstance tether(behindTether(app, clientProtocol(departure)));
  const std::string id = std::string("node-") + name(server) + "-" + name(departure);
  ASSERT_TRUE(sendAndLeave(departure, tether, app, "/slow", id));
  expectCancelledOnBothSides(tether, app, id, expectedReasons(departure), expectedProtocol(departure));
}

INSTANTIATE_TEST_SUITE_P(Interop, NodeExampleDeparture,
                         ::testing::Combine(::testing::Values(Server::kNodeHttp, Server::kExpress),
                                            ::testing::ValuesIn(everyExampleDeparture())),
                         [](const auto& param_info) {
                           return std::string(name(std::get<0>(param_info.param))) + "_" +
                                  name(std::get<1>(param_info.param));
                         });

class NodeExample : public ::testing::TestWithParam<Server> {};

// The loop works in slices and yields to the event loop after each: only then can 'close' be delivered.
TEST_P(NodeExample, CpuLoopStopsAtTheSignal) {
  REQUIRE_NODE_EXAMPLE();
  ExampleApp app(nodeApp(GetParam()));
  TetherInstance tether(behindTether(app, ClientProtocol::kH1));
  const std::string id = std::string("node-cpu-") + name(GetParam());
  ASSERT_TRUE(sendAndLeave(Departure::kRst, tether, app, "/cpu", id));
  const auto line = app.waitFor("request cancelled", id);
  ASSERT_TRUE(line) << app.output();
  EXPECT_EQ(appField(*line, "path"), "/cpu");
  expectCancelledOnBothSides(tether, app, id, {"client_reset"}, "http/1.1");
}

// fetch() with the request's signal: aborted when the client leaves (`downstream cancelled ... err=AbortError`), and
// the downstream (the app itself, called with X-Request-Id <id>-downstream) sees its own 'close' in turn.
TEST_P(NodeExample, FetchWithTheRequestsSignalIsAborted) {
  REQUIRE_NODE_EXAMPLE();
  ExampleApp app(nodeApp(GetParam()));
  TetherInstance tether(behindTether(app, ClientProtocol::kH1));
  const std::string id = std::string("node-call-") + name(GetParam());
  ASSERT_TRUE(sendAndLeave(Departure::kRst, tether, app, "/downstream", id, id + "-downstream"));
  const auto outgoing = app.waitFor("downstream cancelled", id);
  ASSERT_TRUE(outgoing) << app.output();
  EXPECT_EQ(appField(*outgoing, "err"), "AbortError") << *outgoing;
  const auto downstream = app.waitFor("request cancelled", id + "-downstream");
  ASSERT_TRUE(downstream) << app.output();
  EXPECT_EQ(appField(*downstream, "path"), "/slow");
  expectCancelledOnBothSides(tether, app, id, {"client_reset"}, "http/1.1");
}

TEST_P(NodeExample, NormalRequestFiresNothing) {
  REQUIRE_NODE_EXAMPLE();
  ExampleApp app(nodeApp(GetParam()));
  TetherInstance tether(behindTether(app, ClientProtocol::kH1));
  expectCompletesWithoutCancellation(tether, app, std::string("node-fast-") + name(GetParam()));
}

// What Node notices without tether in front (docs/upstreams.md, "Node"): a client's half-close of an HTTP/1.1
// connection (shutdown(SHUT_WR), its read side still open) makes the server close the connection without an answer,
// and the response's 'close' fires before it finished.
TEST_P(NodeExample, WithoutTetherAHalfCloseFiresClose) {
  REQUIRE_NODE_EXAMPLE();
  ExampleApp app(nodeApp(GetParam()));
  const std::string id = std::string("node-half-close-") + name(GetParam());
  RawClient client;
  ASSERT_TRUE(client.connect(app.port()));
  ASSERT_TRUE(client.send(getRequest("/slow", "X-Request-Id: " + id + "\r\n")));
  ASSERT_TRUE(app.waitFor("request started", id)) << app.output();
  client.shutdownWrite();
  ASSERT_TRUE(app.waitFor("request cancelled", id)) << app.output();
  EXPECT_EQ(client.readUntilClosed(), "");
  EXPECT_TRUE(client.peerClosed());
}

INSTANTIATE_TEST_SUITE_P(Interop, NodeExample, ::testing::Values(Server::kNodeHttp, Server::kExpress),
                         [](const auto& param_info) { return std::string(name(param_info.param)); });

}  // namespace
}  // namespace tether::testing
