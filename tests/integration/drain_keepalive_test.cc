// Graceful drain keeps keep-alive clients whole (issue 11, item 6): during drain an HTTP/1.1 response in flight says
// `Connection: close` and its connection closes after it; an idle connection that has received nothing is closed;
// one that has received (part of) a request serves it; HTTP/2 clients get GOAWAY (shutdown notice, then the last
// stream id) and their streams in flight complete. Every wait is for an event: a held upstream request, a log line,
// a closed socket.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "support/h2_client.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

// Holds upstream requests while closed: the handler blocks in pass() until release(). Lets a test put every
// client connection in a known state (a request in flight) before SIGTERM.
class Gate {
 public:
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  void pass() {
    std::unique_lock lock(mu_);
    ++held_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    --held_;
  }
  bool waitHeld(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return held_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true;
  int held_ = 0;
};

// Opens the gate when a test ends early, before the upstream joins its handler threads.
struct OpenOnExit {
  Gate& gate;
  ~OpenOnExit() { gate.release(); }
};

void gateUpstream(TestUpstream& upstream, Gate& gate) {
  upstream.setHandler([&gate](const RecordedRequest& request) {
    if (request.target.starts_with("/held") || request.target.starts_with("/load")) gate.pass();
    TestUpstream::Reply reply;
    reply.body = "done " + request.target;
    return reply;
  });
}

// A keep-alive connection that has served one request and is now idle in tether.
bool openIdleConnection(RawClient& client, uint16_t port) {
  if (!client.connect(port) || !client.send(getRequest("/idle"))) return false;
  const auto response = client.readResponse(5s);
  return response && response->status == 200 && !response->header("connection");
}

TEST(DrainKeepAlive, H1ClientInFlightAtSigterm_GetsConnectionCloseThenTheConnectionCloses) {
  Gate gate;  // outlives the upstream's handler threads
  TestUpstream upstream;
  gateUpstream(upstream, gate);
  OpenOnExit open_on_exit{gate};
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(openIdleConnection(client, tether.port()));
  RawClient idle;
  ASSERT_TRUE(openIdleConnection(idle, tether.port()));
  gate.close();
  ASSERT_TRUE(client.send(getRequest("/held")));
  ASSERT_TRUE(gate.waitHeld(1, 5s));

  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  ASSERT_TRUE(tether.waitForLogLine("drain_started", 5s));
  // The idle connection had received nothing: closed at once, like nginx does.
  EXPECT_TRUE(idle.waitClosed(5s));
  gate.release();

  const auto response = client.readResponse(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "done /held");
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(client.waitClosed(5s));
  EXPECT_EQ(tether.stop(), 0);
}

TEST(DrainKeepAlive, H1RequestPartlyReceivedAtSigterm_IsServedWithConnectionClose) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient partial;
  ASSERT_TRUE(openIdleConnection(partial, tether.port()));
  RawClient idle;
  ASSERT_TRUE(openIdleConnection(idle, tether.port()));
  ASSERT_TRUE(partial.send("GET /late HTTP/1.1\r\nHost: t\r\n"));  // the head is not complete yet

  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  // One worker: once the idle connection is closed, the drain has looked at the partial one too.
  ASSERT_TRUE(idle.waitClosed(5s));
  ASSERT_TRUE(partial.send("\r\n"));
  const auto response = partial.readResponse(5s);
  ASSERT_TRUE(response) << "a request the client had already sent was dropped by the drain";
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(partial.waitClosed(5s));
  EXPECT_EQ(tether.stop(), 0);
}

// The load: several keep-alive connections sending back to back when SIGTERM arrives. Each connection's
// request in flight is held at the upstream while the signal is sent, so every connection is in the state where
// the old drain failed requests (a response without `Connection: close`, then a close under the next request).
TEST(DrainKeepAlive, H1LoadOnKeepAliveConnectionsAcrossSigterm_NoRequestFails) {
  constexpr int kConnections = 4;
  constexpr int kMaxPerConnection = 250;  // bounded: 1,000 requests at most
  Gate gate;                              // outlives the upstream's handler threads
  TestUpstream upstream;
  gateUpstream(upstream, gate);
  OpenOnExit open_on_exit{gate};
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient idle;
  ASSERT_TRUE(openIdleConnection(idle, tether.port()));

  struct Result {
    int sent = 0;
    int complete = 0;
    int failed = 0;
    bool last_said_close = false;
    bool reconnect_refused = false;
  };
  std::vector<Result> results(kConnections);
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      Result& r = results[c];
      RawClient client;
      if (!client.connect(tether.port())) return;
      for (int i = 0; i < kMaxPerConnection; ++i) {
        ++r.sent;
        const auto response =
            client.send(getRequest("/load/" + std::to_string(c))) ? client.readResponse(10s) : std::nullopt;
        if (!response || response->status != 200) {
          ++r.failed;
          return;
        }
        ++r.complete;
        if (response->header("connection") == "close") {
          r.last_said_close = true;
          RawClient again;  // a new connection must not be accepted any more: nothing else is sent
          r.reconnect_refused = !again.connect(tether.port(), 2s);
          return;
        }
      }
    });
  }
  ASSERT_TRUE(upstream.waitForRequests(100, 10s));  // under load
  gate.close();
  ASSERT_TRUE(gate.waitHeld(kConnections, 10s));
  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  ASSERT_TRUE(idle.waitClosed(5s));  // the worker's drain pass ran
  gate.release();
  for (auto& t : clients) t.join();

  int complete = 0;
  for (int c = 0; c < kConnections; ++c) {
    SCOPED_TRACE("connection " + std::to_string(c));
    EXPECT_EQ(results[c].failed, 0);
    EXPECT_EQ(results[c].complete, results[c].sent);
    EXPECT_TRUE(results[c].last_said_close);
    EXPECT_TRUE(results[c].reconnect_refused);
    complete += results[c].complete;
  }
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_EQ(static_cast<int>(tether.logEvents("request_completed").size()), complete + 1);  // + the idle one's
}

TEST(DrainKeepAlive, H2cClientInFlightAtSigterm_GetsGoawayWithLastStreamIdAndItsStreamCompletes) {
  Gate gate;  // outlives the upstream's handler threads
  TestUpstream upstream;
  gateUpstream(upstream, gate);
  OpenOnExit open_on_exit{gate};
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  gate.close();
  const int32_t id = client.request("GET", "/held");
  ASSERT_GT(id, 0);
  ASSERT_TRUE(client.runUntil([&] { return gate.waitHeld(1, 0ms); }, 5s));

  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  // Shutdown notice (2^31-1), the PING the client acknowledges, then the final GOAWAY naming the stream in flight.
  ASSERT_TRUE(client.runUntil([&] { return client.goawayLastStreamIds().size() >= 2; }, 5s));
  EXPECT_EQ(client.goawayLastStreamIds()[0], INT32_MAX);
  EXPECT_EQ(client.goawayLastStreamIds()[1], id);
  EXPECT_EQ(client.goawayCode(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  gate.release();

  ASSERT_TRUE(client.waitClosed(id, 5s));
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_EQ(client.stream(id).body, "done /held");
  EXPECT_EQ(client.stream(id).error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  // Nothing left in flight: tether closes the connection.
  client.runUntil([] { return false; }, 5s);
  EXPECT_TRUE(client.connectionEnded());
  EXPECT_EQ(tether.stop(), 0);
}

}  // namespace
}  // namespace tether::testing
