// Thousands of clients leaving in a row: tether keeps exact accounting (one request_cancelled line
// per abandoned request), keeps serving, leaks no sockets, and with `cancel_with: rst` (default)
// leaves no TIME_WAIT pile-up towards the upstream.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;
using Clock = std::chrono::steady_clock;

int openFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

struct StormResult {
  int sent = 0;
  Clock::duration elapsed{};
};

// `n` sequential clients, each sends a GET to a 30 s upstream job, waits until the upstream has it
// (so every request is in flight, awaiting its response), then leaves: FIN for even i, RST for odd.
StormResult storm(const TetherInstance& tether, const TestUpstream& upstream, int n) {
  StormResult result;
  const auto start = Clock::now();
  const int before = static_cast<int>(upstream.requests().size());
  for (int i = 0; i < n; ++i) {
    RawClient client;
    if (!client.connect(tether.port(), 30s) ||
        !client.send(getRequest("/storm", "X-Request-Id: storm-" + std::to_string(i) + "\r\n"), 30s)) {
      ADD_FAILURE() << "client " << i << " could not send";
      break;
    }
    if (!upstream.waitForRequests(before + i + 1, 30s)) {
      ADD_FAILURE() << "request " << i << " did not reach the upstream";
      break;
    }
    if (i % 2 == 0) {
      client.close();
    } else {
      client.closeWithRst();
    }
    ++result.sent;  // no speed limit: a busy machine is slow, not wrong (ctest's timeout bounds a hang)
  }
  result.elapsed = Clock::now() - start;
  return result;
}

Reply stormReply(const RecordedRequest& request) {
  Reply reply;
  if (request.target == "/storm") reply.delay = 30s;
  reply.body = "ok";
  return reply;
}

void expectStillServes(const TetherInstance& tether, const std::string& id) {
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/normal", "X-Request-Id: " + id + "\r\n")));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response) << "tether stopped answering after the storm";
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  ASSERT_EQ(tether.waitForLogEvents("request_completed", id, 1, 30s).size(), 1u);
}

TEST(CancellationStorm, H1Clients2000LeaveInFlight_H1UpstreamAllClosedWithoutTimeWait) {
  constexpr int kRequests = 2000;
  TestUpstream upstream;
  upstream.setHandler(stormReply);
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  expectStillServes(tether, "storm-warmup");  // opens (and pools) one upstream connection
  const int time_wait_before = countTimeWaitTo(upstream.port());
  const int fds_before = openFds(tether.pid());

  const auto result = storm(tether, upstream, kRequests);
  ASSERT_EQ(result.sent, kRequests);  // how fast is reported, not asserted: a busy machine is slow, not wrong
  std::printf("[ storm    ] %d cancellations in %lld ms\n", result.sent,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(result.elapsed).count()));

  // Every abandoned upstream request was cut (the warm-up connection was the first one used).
  EXPECT_TRUE(upstream.waitForConnectionClosed(kRequests, 30s)) << upstream.closedConnections() << " closed";
  EXPECT_EQ(tether.waitForLogLineCount({"\"request_cancelled\""}, kRequests, 30s), static_cast<size_t>(kRequests));
  expectStillServes(tether, "storm-after");

  // Exactly one line per aborted request, with the right reason.
  const auto lines = tether.logEvents("request_cancelled");
  EXPECT_EQ(lines.size(), static_cast<size_t>(kRequests));
  std::set<std::string> ids;
  int wrong = 0;
  for (const auto& line : lines) {
    const std::string id = line.str("request_id").value_or("");
    ids.insert(id);
    const int i = id.rfind("storm-", 0) == 0 ? std::stoi(id.substr(6)) : -1;
    const char* reason = i % 2 == 0 ? "client_closed" : "client_reset";
    if (i < 0 || line.str("reason") != reason || line.str("phase") != "awaiting_response" ||
        line.integerAt("status") != 499) {
      if (++wrong <= 5)
        ADD_FAILURE() << "unexpected line for " << id << ": reason " << line.str("reason").value_or("?") << ", phase "
                      << line.str("phase").value_or("?");
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRequests)) << "duplicate or missing request ids";
  EXPECT_TRUE(tether.logEvents("client_gone").empty());

  // RST: neither tether's side nor the upstream's keeps a TIME_WAIT for the cut connections.
  const int time_wait = countTimeWaitTo(upstream.port()) - time_wait_before;
  EXPECT_LT(time_wait, 100) << "TIME_WAIT sockets towards the upstream after " << kRequests << " cancellations";
  // No socket leaked: the client and upstream sides of every cancelled exchange were closed.
  EXPECT_LE(openFds(tether.pid()), fds_before + 10);
}

// The contrast: with an orderly close every cancelled connection leaves a TIME_WAIT on tether's side.
TEST(CancellationStorm, H1Clients300LeaveWithCancelWithFin_TimeWaitsPileUpTowardsH1Upstream) {
  constexpr int kRequests = 300;
  TestUpstream upstream;
  upstream.setHandler(stormReply);
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"cancel_with", "fin"}}));
  const int time_wait_before = countTimeWaitTo(upstream.port());

  const auto result = storm(tether, upstream, kRequests);
  ASSERT_EQ(result.sent, kRequests);
  EXPECT_TRUE(upstream.waitForConnectionClosed(kRequests, 30s));
  EXPECT_EQ(tether.waitForLogLineCount({"\"request_cancelled\""}, kRequests, 30s), static_cast<size_t>(kRequests));
  // The upstream's FINs complete the closes: wait until the TIME_WAITs show up.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (countTimeWaitTo(upstream.port()) - time_wait_before < kRequests * 9 / 10 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // poll interval
  }
  const int time_wait = countTimeWaitTo(upstream.port()) - time_wait_before;
  EXPECT_GE(time_wait, kRequests * 9 / 10) << "cancel_with: fin should close orderly (TIME_WAIT on tether's side)";
  expectStillServes(tether, "fin-storm-after");
}

}  // namespace
}  // namespace tether::testing
