// Every departure is noticed, whatever arrives in the same read as the request (issue 11, item 1): a client that
// sends its request and resets (or closes) the connection at once, right after tether read it, or later, on
// HTTP/1.1, h2c, HTTP/1.1 over TLS and h2 over TLS, while the request is complete (awaiting_response) or its body
// is still arriving (reading_request). Each must end in exactly one request_cancelled line, a closed upstream
// connection, no exchange left active and no descriptor left open.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

using Proto = ClientProtocol;
enum class When { kTogether, kAfterRead, kLater };
enum class Phase { kAwaitingResponse, kReadingRequest };

const char* name(When w) {
  switch (w) {
    case When::kTogether: return "Together";
    case When::kAfterRead: return "AfterRead";
    case When::kLater: return "Later";
  }
  return "?";
}

// One request in `phase`, in one write: complete (GET /slow), or a POST whose 1000-byte body stops after 3 bytes.
bool sendRequest(AnyClient& client, Phase phase, const std::string& id) {
  if (phase == Phase::kAwaitingResponse) return client.request("GET", "/slow", {{"X-Request-Id", id}});
  return client.sendHead("POST", "/upload", {{"X-Request-Id", id}}, 1000, /*end=*/false, "abc");
}

// The descriptors tether holds once it has fully started (the admin listener answers, the startup line is out).
int startedDescriptors(const TetherInstance& tether) {
  EXPECT_TRUE(tether.waitForLogLine("\"startup\"", 10s));
  scrape(tether);
  return openDescriptors(tether.pid());
}

// Polls until tether holds at most `baseline` descriptors (the cancellation closes them from its loop).
bool waitForDescriptors(pid_t pid, int baseline, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (openDescriptors(pid) > baseline) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Polls /metrics until tether_active_requests is `n`.
bool waitForActiveRequests(const TetherInstance& tether, double n, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (sampleValue(scrape(tether), "tether_active_requests") != n) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Polls /metrics until tether holds no client connection: the connection's whole life, and every exchange on it
// (the route's policy cancels them), is over. Only then is "nothing was cancelled" a conclusion rather than a race.
bool waitForNoClientConnection(const TetherInstance& tether, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  for (;;) {
    const std::string text = scrape(tether);
    if (sampleValue(text, "tether_downstream_connections{protocol=\"http\"}") == 0 &&
        sampleValue(text, "tether_downstream_connections{protocol=\"https\"}") == 0) {
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// tether_requests_cancelled_total summed over its labels.
double cancelledTotal(const TetherInstance& tether) {
  const std::string text = scrape(tether);
  const std::string prefix = "tether_requests_cancelled_total{";
  double sum = 0;
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;
    const size_t space = text.find(' ', text.find('}', at));
    sum += std::stod(text.substr(space + 1, text.find('\n', space) - space - 1));
  }
  return sum;
}

TetherOptions optionsFor(Proto proto, const TestUpstream& upstream, const std::string& dir) {
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  if (isTls(proto)) {
    const auto cert = makeSelfSignedCertificate(dir);
    options.tls_cert = cert.cert;
    options.tls_key = cert.key;
  }
  return options;
}

// The upstream "works" on /slow far longer than any test waits; /upload never gets its whole body.
void slowHandler(TestUpstream& upstream) {
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;
    reply.body = "late";
    return reply;
  });
}

void runDeparture(Proto proto, Phase phase, When when, Leave how) {
  TestUpstream upstream;
  slowHandler(upstream);
  TetherInstance tether(optionsFor(proto, upstream, tempDir()));
  const int baseline = startedDescriptors(tether);
  const std::string id = std::string("dep-") + name(proto) + "-" + name(when);

  AnyClient client(proto);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(sendRequest(client, phase, id));
  if (when == When::kAfterRead) {
    // tether parsed the head: it is opening the upstream connection.
    const Deadline deadline = deadlineAfter(5s);
    while (upstream.acceptedConnections() < 1 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    ASSERT_EQ(upstream.acceptedConnections(), 1);
  } else if (when == When::kLater) {
    if (phase == Phase::kAwaitingResponse) {
      ASSERT_TRUE(upstream.waitForRequests(1, 5s)) << "the request never reached the upstream";
    } else {
      const Deadline deadline = deadlineAfter(5s);
      while (upstream.acceptedConnections() < 1 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
      ASSERT_EQ(upstream.acceptedConnections(), 1);
    }
  }
  client.leave(how);

  // Everything is released: the client and upstream sockets closed, no exchange left. The client connection goes
  // first: until tether closed it, the request may not even have been read yet (a slow TLS handshake).
  EXPECT_TRUE(waitForNoClientConnection(tether, 10s)) << scrape(tether);
  EXPECT_TRUE(waitForDescriptors(tether.pid(), baseline, 10s))
      << openDescriptors(tether.pid()) << " descriptors open, " << baseline << " before\n"
      << tether.dumpLog();
  EXPECT_TRUE(waitForActiveRequests(tether, 0, 10s)) << scrape(tether);
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 5s))
      << "an upstream connection stayed open";
  if (cancelledTotal(tether) == 0 && when == When::kTogether && isTls(proto)) {
    // The reset reached tether before it read the request: its TLS handshake's last write (session tickets) failed
    // and the connection was closed unread. Nothing was started, so nothing was left to cancel.
    EXPECT_EQ(upstream.acceptedConnections(), 0);
    EXPECT_TRUE(tether.logEvents("request_completed").empty());
    return;
  }
  const auto lines = tether.waitForLogEvents("request_cancelled", id, 1, 10s);
  ASSERT_EQ(lines.size(), 1u) << "the departure was not noticed\n" << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), cancelReason(how)) << tether.dumpLog();
  const std::string expected_phase = phase == Phase::kReadingRequest ? "reading_request" : "awaiting_response";
  if (when == When::kLater) {
    EXPECT_EQ(lines[0].str("phase"), expected_phase);
  } else {
    // The departure may be seen before the upstream connection is up: then it is still connecting.
    const auto seen = lines[0].str("phase").value_or("");
    EXPECT_TRUE(seen == expected_phase || seen == "connecting") << seen;
  }
  EXPECT_EQ(cancelledTotal(tether), 1);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
}

struct Case {
  Proto proto;
  Phase phase;
  When when;
  Leave how;
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::string(name(c.proto)) + name(c.how) +
         (c.phase == Phase::kAwaitingResponse ? "AwaitingResponse" : "ReadingRequest") + name(c.when);
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (Proto proto : {Proto::kH1, Proto::kH2c, Proto::kH1Tls, Proto::kH2Tls}) {
    for (Phase phase : {Phase::kAwaitingResponse, Phase::kReadingRequest}) {
      for (When when : {When::kTogether, When::kAfterRead, When::kLater}) {
        cases.push_back({proto, phase, when, Leave::kRst});
      }
      cases.push_back({proto, phase, When::kTogether, Leave::kFin});
      if (isTls(proto)) {
        for (When when : {When::kTogether, When::kLater}) cases.push_back({proto, phase, when, Leave::kCloseNotify});
      }
    }
  }
  return cases;
}

class Departure : public ::testing::TestWithParam<Case> {};

TEST_P(Departure, IsNoticedAndReleasesEverything) {
  const Case& c = GetParam();
  runDeparture(c.proto, c.phase, c.when, c.how);
}

INSTANTIATE_TEST_SUITE_P(EveryProtocolPhaseAndMoment, Departure, ::testing::ValuesIn(allCases()), caseName);

// The reproduction: 50 clients each send a request and reset at once (25 complete GETs, 25 POSTs with 3 of
// 1000 body bytes). Every one is cancelled; no exchange, upstream connection or descriptor stays behind.
TEST(DepartureStorm, FiftyResetsWithTheRequestAllCancelled) {
  TestUpstream upstream;
  slowHandler(upstream);
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"max_connections_per_endpoint", "4"}}));
  const int baseline = startedDescriptors(tether);
  constexpr int kClients = 50;
  for (int i = 0; i < kClients; ++i) {
    const Phase phase = i % 2 == 0 ? Phase::kAwaitingResponse : Phase::kReadingRequest;
    AnyClient client(Proto::kH1);
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(sendRequest(client, phase, "storm-" + std::to_string(i)));
    client.leave(Leave::kRst);
  }
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", "", kClients, 20s).size(), static_cast<size_t>(kClients))
      << tether.dumpLog();
  EXPECT_TRUE(waitForActiveRequests(tether, 0, 10s)) << scrape(tether);
  EXPECT_TRUE(waitForDescriptors(tether.pid(), baseline, 10s))
      << openDescriptors(tether.pid()) << " descriptors open, " << baseline << " before";
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 5s));
  // With only 4 upstream connections allowed, pinned ones would starve this request (503).
  RawClient next;
  ASSERT_TRUE(next.connect(tether.port()));
  upstream.setHandler([](const RecordedRequest&) { return Reply{}; });
  ASSERT_TRUE(next.send(getRequest("/after")));
  const auto response = next.readResponse(10s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace tether::testing
