// tether in front of nghttpd (Debian's nghttp2-server), `protocol: h2c` and `protocol: h2`:
// - files arrive byte-correct for HTTP/1.1, h2c and h2 clients, all over one upstream connection;
// - a client that leaves while a 32 MiB file streams makes tether reset that stream: nghttpd's frame log shows
//   RST_STREAM with error_code CANCEL on it, and the same connection then serves the next file byte-correct.
// nghttpd cannot hold a request, so cancellation is in the streaming phase: the client reads 64 KiB and stops
// reading, and flow control (tether's and the client's) keeps the rest of the file upstream.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "nghttpd.h"
#include "support/any_client.h"
#include "support/h2_client.h"
#include "support/protocol_matrix.h"
#include "support/test_env.h"
#include "support/test_pki.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;  // only a failing test waits this long
constexpr uint64_t kPageBytes = 300 * 1024;
constexpr uint64_t kBigBytes = 32ull << 20;

void writeGenerated(const std::string& path, uint64_t bytes) {
  const std::string body = generatedBody(bytes);
  std::ofstream(path, std::ios::binary).write(body.data(), static_cast<std::streamsize>(body.size()));
}

// One docroot and PKI for every test: /page.bin (300 KiB) and /big.bin (32 MiB) of generatedBody() bytes.
class NghttpdSuite {
 public:
  static void setUp() {
    if (docroot_.empty()) {
      docroot_ = tempDir();
      writeGenerated(docroot_ + "/page.bin", kPageBytes);
      writeGenerated(docroot_ + "/big.bin", kBigBytes);
      pki_ = std::make_unique<TestPki>(makeTestPki(tempDir()));
    }
  }
  static std::unique_ptr<Nghttpd> start(bool tls) {
    return std::make_unique<Nghttpd>(docroot_, tls ? pki_.get() : nullptr);
  }
  static TetherOptions proxyTo(const Nghttpd& server, bool tls) {
    Settings settings{{"protocol", tls ? "h2" : "h2c"}, {"connect_timeout", "5s"}};
    if (tls) settings.emplace_back("tls", "{ca: \"" + pki_->ca + "\", server_name: localhost}");
    return TetherOptions::proxyTo({server.endpoint()}, settings);
  }

 private:
  static inline std::string docroot_;
  static inline std::unique_ptr<TestPki> pki_;
};

// GET /page.bin from a new client of `protocol`: 200 and every byte right.
void expectPage(const TetherInstance& tether, ClientProtocol protocol) {
  AnyClient client(protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/page.bin"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body_bytes, kPageBytes);
  EXPECT_TRUE(response->body == generatedBody(kPageBytes)) << name(protocol);
}

// The upstream over TLS (h2) or not (h2c).
class NghttpdUpstream : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() { NghttpdSuite::setUp(); }
};

// Two tethers (a TLS listener serves TLS clients only): cleartext HTTP/1.1 and h2c clients through one, HTTP/1.1
// and h2 over TLS through the other; each tether's two requests share its one upstream connection.
TEST_P(NghttpdUpstream, FilesByteCorrectForEveryClientOverOneConnection) {
  const auto server = NghttpdSuite::start(GetParam());
  const TetherOptions options = NghttpdSuite::proxyTo(*server, GetParam());
  {
    TetherInstance cleartext(options);
    expectPage(cleartext, ClientProtocol::kH1);
    expectPage(cleartext, ClientProtocol::kH2c);
  }
  {
    TetherInstance tls(forClient(options, ClientProtocol::kH2Tls));
    expectPage(tls, ClientProtocol::kH1Tls);
    expectPage(tls, ClientProtocol::kH2Tls);
  }
  const auto requests = server->waitForReceived("HEADERS", 4);
  ASSERT_EQ(requests.size(), 4u) << server->output();
  EXPECT_EQ(requests[1].connection, requests[0].connection);
  EXPECT_EQ(requests[3].connection, requests[2].connection);
  EXPECT_NE(requests[2].connection, requests[0].connection);
  EXPECT_TRUE(server->received("RST_STREAM").empty()) << server->output();
}

std::string upstreamName(const ::testing::TestParamInfo<bool>& info) { return info.param ? "H2" : "H2c"; }
INSTANTIATE_TEST_SUITE_P(Interop, NghttpdUpstream, ::testing::Bool(), upstreamName);

// Ten streams on one h2c client connection through tether to nghttpd (h2c): five 32 MiB files reset by the client
// once their first bytes arrived, five 300 KiB files read whole. nghttpd received exactly five RST_STREAM(CANCEL),
// on the five streams of the large files; the small ones arrive byte-correct; one upstream connection carried all.
TEST(NghttpdTenStreams, FiveResetFiveByteCorrectOverOneUpstreamConnection) {
  NghttpdSuite::setUp();
  const auto server = NghttpdSuite::start(false);
  TetherInstance tether(NghttpdSuite::proxyTo(*server, false));
  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  std::vector<int32_t> big;
  std::vector<int32_t> pages;
  for (int i = 0; i < 5; ++i) {
    big.push_back(client.requestGenerated("GET", "/big.bin", 0, true));
    pages.push_back(client.request("GET", "/page.bin"));
  }
  // 32 MiB is a hundred pages: the large files are still streaming when the pages are done.
  ASSERT_TRUE(client.runUntil(
      [&] {
        for (int32_t id : big) {
          if (client.stream(id).body_bytes == 0) return false;
        }
        for (int32_t id : pages) {
          if (!client.stream(id).closed) return false;
        }
        return true;
      },
      kBound))
      << tether.dumpLog();
  for (int32_t id : big) {
    ASSERT_FALSE(client.stream(id).closed) << id;
    client.reset(id, NGHTTP2_CANCEL);
  }
  ASSERT_TRUE(client.runUntil(
      [&] {
        for (int32_t id : big) {
          if (!client.stream(id).closed) return false;
        }
        return true;
      },
      kBound));

  const auto resets = server->waitForReceived("RST_STREAM", 5);
  ASSERT_EQ(resets.size(), 5u) << server->output();
  std::set<int32_t> reset_streams;
  for (const Nghttpd::Frame& reset : resets) {
    EXPECT_EQ(reset.detail, "(error_code=CANCEL(0x08))");
    reset_streams.insert(reset.stream_id);
  }
  const auto big_streams = server->streamsFor("/big.bin");
  EXPECT_EQ(reset_streams, std::set<int32_t>(big_streams.begin(), big_streams.end()));
  const std::string page = generatedBody(kPageBytes);
  for (int32_t id : pages) {
    EXPECT_EQ(client.stream(id).status, 200);
    EXPECT_TRUE(client.stream(id).body == page) << id;
  }
  const auto requests = server->waitForReceived("HEADERS", 10);
  ASSERT_EQ(requests.size(), 10u) << server->output();
  for (const Nghttpd::Frame& request : requests) EXPECT_EQ(request.connection, requests[0].connection);
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", "", 5, kBound).size(), 5u) << tether.dumpLog();

  tether.stop();  // every line written
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 5u) << tether.dumpLog();
  EXPECT_EQ(server->received("RST_STREAM").size(), 5u) << server->output();
}

// Client protocol and departure x upstream over TLS or not.
struct StreamingCase {
  MatrixCase client;
  bool tls;
};

void PrintTo(const StreamingCase& c, std::ostream* out) {
  *out << name(c.client.protocol) << "Client_" << (c.tls ? "H2" : "H2c") << "Upstream_" << name(c.client.how);
}

class NghttpdStreamingCancel : public ::testing::TestWithParam<StreamingCase> {
 protected:
  static void SetUpTestSuite() { NghttpdSuite::setUp(); }
};

TEST_P(NghttpdStreamingCancel, ResetsOnlyThatStreamWithCancel) {
  const StreamingCase& c = GetParam();
  const auto server = NghttpdSuite::start(c.tls);
  TetherInstance tether(forClient(NghttpdSuite::proxyTo(*server, c.tls), c.client.protocol));
  {
    AnyClient client(c.client.protocol);
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.request("GET", "/big.bin"));
    ASSERT_TRUE(client.readResponseStart(64 * 1024)) << tether.dumpLog();
    client.leave(c.client.how);
    const auto resets = server->waitForReceived("RST_STREAM", 1);
    ASSERT_EQ(resets.size(), 1u) << server->output() << tether.dumpLog();
    EXPECT_EQ(resets[0].detail, "(error_code=CANCEL(0x08))");
    EXPECT_EQ(resets[0].stream_id, server->received("HEADERS").at(0).stream_id);
  }
  const auto events = tether.waitForLogEvents("request_cancelled", "", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), "streaming_response");
  EXPECT_EQ(events[0].str("reason"), cancelReason(c.client.how));

  expectPage(tether, c.client.protocol);
  // nghttpd may answer before its log line is flushed: wait for the line.
  const auto requests = server->waitForReceived("HEADERS", 2);
  ASSERT_EQ(requests.size(), 2u) << server->output();
  EXPECT_EQ(requests[1].connection, requests[0].connection);  // the connection outlived the reset stream
  EXPECT_TRUE(server->received("GOAWAY").empty()) << server->output();

  tether.stop();  // every line written
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(server->received("RST_STREAM").size(), 1u) << server->output();
}

std::vector<StreamingCase> streamingCases() {
  std::vector<StreamingCase> cases;
  for (bool tls : {false, true}) {
    for (const MatrixCase& client : everyDeparture()) cases.push_back({client, tls});
  }
  return cases;
}

// "H2cClient_H2Upstream_StreamReset"
std::string streamingName(const ::testing::TestParamInfo<StreamingCase>& info) {
  return std::string(name(info.param.client.protocol)) + "Client_" + (info.param.tls ? "H2" : "H2c") + "Upstream_" +
         name(info.param.client.how);
}
INSTANTIATE_TEST_SUITE_P(Interop, NghttpdStreamingCancel, ::testing::ValuesIn(streamingCases()), streamingName);

}  // namespace
}  // namespace tether::testing
