// examples/node behind the real tether, for both servers: node:http alone and Express 5. When a client leaves
// (curl's --max-time, a TCP reset, an HTTP/2 RST_STREAM over h2c or h2/TLS: tether then closes its HTTP/1.1
// connection to Node), the proof is the app's own log: the response's 'close' fired before it finished and aborted
// the request's AbortController (`request cancelled id=<id>`), and tether wrote exactly one request_cancelled line
// with the phase, the departure's reason and the client's protocol. The CPU loop (yielding to the event loop), the
// fetch() that carries the signal (aborted, and the downstream's own 'close' fires) and the negative each have a
// test.
//
// The delay from tether's request_cancelled to the app's line is printed (RecordProperty "cancel_delay_ms") and
// bounded by kSignalBound, a guard against "never" only (measured: examples/node/README.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "example_app.h"
#include "example_departure.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;            // only a failing test waits this long
constexpr int64_t kSignalBound = 5000;  // ms from tether's request_cancelled to the app's line: a guard only

enum class Server { kNodeHttp, kExpress };
const char* name(Server server) { return server == Server::kNodeHttp ? "NodeHttp" : "Express"; }
const char* script(Server server) { return server == Server::kNodeHttp ? "http-server.js" : "express-server.js"; }

std::string nodeMissing() {
  return missingFiles({TETHER_NODE, std::string(TETHER_NODE_EXAMPLE_DIR) + "/node_modules/express/package.json"});
}
#define REQUIRE_NODE_EXAMPLE() REQUIRE_EXAMPLE_RUNTIME(nodeMissing())

std::vector<std::string> nodeApp(Server server) {
  return {TETHER_NODE, std::string(TETHER_NODE_EXAMPLE_DIR) + "/" + script(server), "--listen", "127.0.0.1:0"};
}

TetherOptions behindTether(const ExampleApp& app, ClientProtocol client) {
  return forClient(TetherOptions::proxyTo({app.endpoint()}), client);
}

// The one request_cancelled line of `id` (checked after tether stopped: every line is written then), with its phase
// and protocol; and the app's line for `id` within kSignalBound of it.
void expectCancelledOnBothSides(TetherInstance& tether, const ExampleApp& app, const std::string& id,
                                const std::vector<std::string>& reasons, const std::string& protocol) {
  const auto app_line = app.waitFor("request cancelled", id);
  ASSERT_TRUE(app_line) << app.output() << tether.dumpLog();
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, kBound).size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.stop(), 0);
  const auto events = tether.logEvents("request_cancelled", id);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), "awaiting_response");
  EXPECT_THAT(reasons, ::testing::Contains(events[0].str("reason").value_or(""))) << tether.dumpLog();
  EXPECT_EQ(events[0].str("protocol"), protocol);
  const auto delay = millisBetween(events[0], *app_line);
  ASSERT_TRUE(delay) << *app_line;
  ::testing::Test::RecordProperty("cancel_delay_ms", std::to_string(*delay));
  std::printf("cancel delay %s: %lld ms, reason %s\n", id.c_str(), static_cast<long long>(*delay),
              events[0].str("reason").value_or("").c_str());
  EXPECT_LE(*delay, kSignalBound) << *app_line << "\n" << tether.dumpLog();
  EXPECT_EQ(app.count("request cancelled", id), 1u) << app.output();
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
  const std::string id = std::string("node-fast-") + name(GetParam());
  Process curl(
      {kCurl, "-s", "-H", "X-Request-Id: " + id, "http://127.0.0.1:" + std::to_string(tether.port()) + "/fast"});
  EXPECT_EQ(curl.waitExit(kBound), 0);
  EXPECT_TRUE(curl.waitForOutput("fast\n")) << curl.output();  // the reader may lag the exit: wait for the bytes
  ASSERT_TRUE(app.waitFor("request completed", id)) << app.output();
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_EQ(tether.logEvents("request_completed", id).size(), 1u) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_EQ(app.output().find("cancelled"), std::string::npos) << app.output();
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
