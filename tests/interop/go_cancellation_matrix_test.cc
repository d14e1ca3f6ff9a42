// The cancellation matrix against a real HTTP/2 server: Go's net/http (golang.org/x/net/http2, go_h2_upstream).
// Client HTTP/1.1, h2c or h2 over TLS x upstream `protocol: http1`, `h2c` or `h2` x how the request ends early
// (the client's FIN, TCP reset or RST_STREAM, or the route's deadline). For each:
//
//   upstream     | what Go observes for the cancelled request               | the next request (new client)
//   http1        | its context fires (the connection closed: `eof`)          | a new connection
//   h2c, h2      | its context fires; the tap reads RST_STREAM(CANCEL) on    | the same connection (one accepted)
//                | its stream; no GOAWAY                                     |
//
// and tether writes exactly one request_cancelled line (phase awaiting_response, the departure's reason, or
// deadline_exceeded with 504).

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "go_upstream.h"
#include "output_lines.h"
#include "support/any_client.h"
#include "support/protocol_matrix.h"
#include "support/test_env.h"
#include "support/test_pki.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;  // only a failing test waits this long

enum class UpstreamProtocol { kH1, kH2c, kH2 };
enum class Abort { kFin, kRst, kStreamReset, kDeadline };

struct InteropCase {
  ClientProtocol client;
  UpstreamProtocol upstream;
  Abort abort;
};

const char* name(UpstreamProtocol upstream) {
  switch (upstream) {
    case UpstreamProtocol::kH1: return "H1";
    case UpstreamProtocol::kH2c: return "H2c";
    case UpstreamProtocol::kH2: return "H2";
  }
  return "?";
}
const char* configName(UpstreamProtocol upstream) {
  switch (upstream) {
    case UpstreamProtocol::kH1: return "http1";
    case UpstreamProtocol::kH2c: return "h2c";
    case UpstreamProtocol::kH2: return "h2";
  }
  return "?";
}
const char* name(Abort abort) { return abort == Abort::kDeadline ? "Deadline" : name(static_cast<Leave>(abort)); }
Leave leaveOf(Abort abort) { return static_cast<Leave>(abort); }
static_assert(static_cast<int>(Abort::kStreamReset) == static_cast<int>(Leave::kStreamReset));

// "H2cClient_H2Upstream_StreamReset"
std::string caseName(const ::testing::TestParamInfo<InteropCase>& info) {
  return std::string(name(info.param.client)) + "Client_" + name(info.param.upstream) + "Upstream_" +
         name(info.param.abort);
}

// For gtest's messages and ctest's names: "H2cClient_H2Upstream_StreamReset".
void PrintTo(const InteropCase& c, std::ostream* out) {
  *out << name(c.client) << "Client_" << name(c.upstream) << "Upstream_" << name(c.abort);
}

std::vector<InteropCase> everyCase() {
  std::vector<InteropCase> cases;
  for (ClientProtocol client : {ClientProtocol::kH1, ClientProtocol::kH2c, ClientProtocol::kH2Tls}) {
    for (UpstreamProtocol upstream : {UpstreamProtocol::kH1, UpstreamProtocol::kH2c, UpstreamProtocol::kH2}) {
      for (Abort abort : {Abort::kFin, Abort::kRst, Abort::kStreamReset, Abort::kDeadline}) {
        if (abort == Abort::kStreamReset && !isH2(client)) continue;
        cases.push_back({client, upstream, abort});
      }
    }
  }
  return cases;
}

class GoCancellationMatrix : public ::testing::TestWithParam<InteropCase> {
 protected:
  // One PKI for the suite (openssl takes a while per key): Go's certificate for `protocol: h2`.
  static void SetUpTestSuite() { pki_ = std::make_unique<TestPki>(makeTestPki(tempDir())); }
  static void TearDownTestSuite() { pki_.reset(); }

  static bool h2Upstream() { return GetParam().upstream != UpstreamProtocol::kH1; }

  static TetherOptions options(const GoUpstream& upstream) {
    const InteropCase& c = GetParam();
    Settings upstream_settings{{"protocol", configName(c.upstream)}, {"connect_timeout", "5s"}};
    if (c.upstream == UpstreamProtocol::kH2) {
      upstream_settings.emplace_back("tls", "{ca: \"" + pki_->ca + "\", server_name: localhost}");
    }
    Settings route_settings;
    // Long enough for the request to reach Go on a busy machine; the test waits for the 504, not for the time.
    if (c.abort == Abort::kDeadline) route_settings.emplace_back("timeout", "1s");
    TetherOptions options;
    options.addUpstream("go", {upstream.endpoint()}, upstream_settings);
    options.addRoute("all", "{path_prefix: /}", "go", route_settings);
    return forClient(options, c.client);
  }

  static std::unique_ptr<TestPki> pki_;
};
std::unique_ptr<TestPki> GoCancellationMatrix::pki_;

TEST_P(GoCancellationMatrix, UpstreamSeesTheCancelAndServesTheNextRequest) {
  const InteropCase& c = GetParam();
  GoUpstream upstream(c.upstream == UpstreamProtocol::kH2 ? GoUpstream::Mode::kTls : GoUpstream::Mode::kCleartext,
                      pki_.get());
  TetherInstance tether(options(upstream));
  const std::string slow = "/slow?case=cancelled";

  AnyClient client(c.client);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", slow));
  const auto connection = upstream.connectionOf(slow);
  ASSERT_TRUE(connection) << upstream.output() << tether.dumpLog();
  if (c.abort == Abort::kDeadline) {
    const auto response = client.readResponse();
    ASSERT_TRUE(response) << tether.dumpLog();
    EXPECT_EQ(response->status, 504);
  } else {
    client.leave(leaveOf(c.abort));
  }

  // What Go observed: the request's context fired; for HTTP/2, RST_STREAM(CANCEL) on its stream.
  ASSERT_EQ(upstream.waitFor("cancelled", slow).size(), 1u) << upstream.output() << tether.dumpLog();
  if (h2Upstream()) {
    const auto resets = waitForLinesWith(*upstream.process(), {"frame RST_STREAM " + *connection + " "}, 1, kBound);
    ASSERT_EQ(resets.size(), 1u) << upstream.output();
    const auto reset = fields(resets[0]);
    EXPECT_EQ(reset.at(4), slow) << resets[0];
    EXPECT_EQ(reset.at(5), "CANCEL") << resets[0];
  } else {
    EXPECT_EQ(waitForLinesWith(*upstream.process(), {"eof " + *connection}, 1, kBound).size(), 1u) << upstream.output();
  }

  const auto events = tether.waitForLogEvents("request_cancelled", "", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), "awaiting_response");
  EXPECT_EQ(events[0].str("reason"),
            c.abort == Abort::kDeadline ? "deadline_exceeded" : cancelReason(leaveOf(c.abort)));
  EXPECT_EQ(events[0].integerAt("status"), c.abort == Abort::kDeadline ? 504 : 499);
  EXPECT_EQ(events[0].str("protocol"), logProtocol(c.client));
  EXPECT_EQ(events[0].str("path"), "/slow");  // the path without its query
  const char* upstream_protocols[] = {"http1", "h2c", "h2"};
  EXPECT_EQ(events[0].str("upstream_protocol"), upstream_protocols[static_cast<int>(c.upstream)]);
  EXPECT_EQ(events[0].str("upstream_reset"), h2Upstream() ? "CANCEL" : "rst");  // cancel_with's default for http1

  // The next request: served, over the same HTTP/2 connection (a new one for HTTP/1.1, which tether closed).
  const std::string fast = "/fast?case=next";
  AnyClient next(c.client);
  ASSERT_TRUE(next.connect(tether.port()));
  ASSERT_TRUE(next.request("GET", fast));
  const auto response = next.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "fast " + fast + "\n");
  const auto next_connection = upstream.connectionOf(fast);
  ASSERT_TRUE(next_connection);
  if (h2Upstream()) {
    EXPECT_EQ(*next_connection, *connection);
    EXPECT_EQ(upstream.lines("accepted ").size(), 1u) << upstream.output();
    EXPECT_TRUE(upstream.lines("frame GOAWAY ").empty()) << upstream.output();
  } else {
    EXPECT_NE(*next_connection, *connection);
  }

  tether.stop();  // every line written
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(upstream.lines("cancelled ").size(), 1u) << upstream.output();
  if (h2Upstream()) {
    EXPECT_EQ(upstream.lines("frame RST_STREAM ").size(), 1u) << upstream.output();
  }
}

INSTANTIATE_TEST_SUITE_P(Interop, GoCancellationMatrix, ::testing::ValuesIn(everyCase()), caseName);

}  // namespace
}  // namespace tether::testing
