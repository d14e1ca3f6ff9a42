// Every departure is noticed, whatever arrives in the same read as the request (issue 11, item 1): a client that
// sends its request and resets (or closes) the connection at once, right after tether read it, or later, on
// HTTP/1.1, h2c, HTTP/1.1 over TLS and h2 over TLS, while the request is complete (awaiting_response) or its body
// is still arriving (reading_request). Each must end in exactly one request_cancelled line, a closed upstream
// connection, no exchange left active and no descriptor left open.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.h"
#include "support/h2_client.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

enum class Proto { kH1, kH2c, kH1Tls, kH2Tls };
enum class When { kTogether, kAfterRead, kLater };
enum class Phase { kAwaitingResponse, kReadingRequest };
enum class Leave { kFin, kRst };

const char* name(Proto p) {
  switch (p) {
    case Proto::kH1: return "H1";
    case Proto::kH2c: return "H2c";
    case Proto::kH1Tls: return "H1Tls";
    case Proto::kH2Tls: return "H2Tls";
  }
  return "?";
}
const char* name(When w) {
  switch (w) {
    case When::kTogether: return "Together";
    case When::kAfterRead: return "AfterRead";
    case When::kLater: return "Later";
  }
  return "?";
}
bool isH2(Proto p) { return p == Proto::kH2c || p == Proto::kH2Tls; }
bool isTls(Proto p) { return p == Proto::kH1Tls || p == Proto::kH2Tls; }

// The bytes of one request in `phase`: complete (GET /slow), or a POST whose 1000-byte body stops after 3 bytes.
std::string requestBytes(Proto proto, Phase phase, const std::string& id) {
  if (!isH2(proto)) {
    if (phase == Phase::kAwaitingResponse) return getRequest("/slow", "X-Request-Id: " + id + "\r\n");
    return "POST /upload HTTP/1.1\r\nHost: test\r\nX-Request-Id: " + id + "\r\nContent-Length: 1000\r\n\r\nabc";
  }
  const bool get = phase == Phase::kAwaitingResponse;
  HeaderList fields{{":method", get ? "GET" : "POST"},
                    {":scheme", isTls(proto) ? "https" : "http"},
                    {":path", get ? "/slow" : "/upload"},
                    {":authority", "test"},
                    {"x-request-id", id}};
  if (!get) fields.emplace_back("content-length", "1000");
  std::string out = (proto == Proto::kH2c ? h2frames::preface() : std::string()) + h2frames::headers(1, fields, get);
  if (!get) out += h2frames::data(1, "abc", false);
  return out;
}

// One client connection of any protocol, as raw bytes.
class Client {
 public:
  Client(Proto proto, uint16_t port) : proto_(proto) {
    if (isTls(proto)) {
      tls_ = std::make_unique<TlsClient>();
      ok_ = tls_->connect(port, isH2(proto) ? "h2" : "http/1.1");
      // ALPN h2: the client preface goes first, as any h2 client sends it right after the handshake.
      if (ok_ && isH2(proto)) ok_ = tls_->alpn() == "h2" && tls_->send(h2frames::preface());
    } else {
      ok_ = raw_.connect(port);
    }
  }
  bool ok() const { return ok_; }
  bool send(const std::string& bytes) { return tls_ ? tls_->send(bytes) : raw_.send(bytes); }
  // A FIN is a shutdown of the sending side: closing a socket with unread bytes (the server's SETTINGS, TLS session
  // tickets) would send a reset instead.
  void leave(Leave how) {
    if (tls_) {
      how == Leave::kRst ? tls_->closeWithRst() : tls_->shutdownWrite();
    } else {
      how == Leave::kRst ? raw_.closeWithRst() : raw_.shutdownWrite();
    }
  }

 private:
  Proto proto_;
  RawClient raw_;
  std::unique_ptr<TlsClient> tls_;
  bool ok_ = false;
};

int openDescriptors(pid_t pid) {
  std::error_code error;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++n;
  }
  return n;
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

std::string dumpLog(const TetherInstance& tether) {
  std::string all;
  for (const auto& line : tether.logLines()) all += line + "\n";
  return all;
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

  Client client(proto, tether.port());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.send(requestBytes(proto, phase, id)));
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
      << dumpLog(tether);
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
  ASSERT_EQ(lines.size(), 1u) << "the departure was not noticed\n" << dumpLog(tether);
  const char* reason = how == Leave::kRst ? "client_reset" : "client_closed";
  EXPECT_EQ(lines[0].str("reason"), reason) << dumpLog(tether);
  const std::string expected_phase = phase == Phase::kReadingRequest ? "reading_request" : "awaiting_response";
  if (when == When::kLater) {
    EXPECT_EQ(lines[0].str("phase"), expected_phase);
  } else {
    // The departure may be seen before the upstream connection is up: then it is still connecting.
    const auto seen = lines[0].str("phase").value_or("");
    EXPECT_TRUE(seen == expected_phase || seen == "connecting") << seen;
  }
  EXPECT_EQ(cancelledTotal(tether), 1);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << dumpLog(tether);
}

struct Case {
  Proto proto;
  Phase phase;
  When when;
  Leave how;
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::string(name(c.proto)) + (c.how == Leave::kRst ? "Rst" : "Fin") +
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
    Client client(Proto::kH1, tether.port());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.send(requestBytes(Proto::kH1, phase, "storm-" + std::to_string(i))));
    client.leave(Leave::kRst);
  }
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", "", kClients, 20s).size(), static_cast<size_t>(kClients))
      << dumpLog(tether);
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
