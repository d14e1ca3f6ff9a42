// H2TestUpstream itself: driven by H2Client (nghttp2's client session), raw frames and the nghttp binary, with no
// tether in between, so the upstream's own records can be trusted by the cancellation tests.
#include "support/h2_test_upstream.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/h2_client.h"
#include "support/process.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = H2TestUpstream::Reply;
using Hold = H2TestUpstream::Reply::Hold;

constexpr auto kBound = 30s;  // failure bound: only a failing test waits this long

// Holds every request whose path starts with /hold; answers the others with "done <path>".
Reply holdOrAnswer(const H2Request& request) {
  Reply reply;
  if (request.path.starts_with("/hold")) reply.hold = Hold::kBeforeHeaders;
  reply.body = "done " + request.path;
  return reply;
}

std::string pingFrame() {
  std::string frame("\x00\x00\x08\x06\x00\x00\x00\x00\x00", 9);
  return frame + "12345678";
}

TEST(H2TestUpstream, GetReturnsBodyHeadersAndTrailers) {
  H2TestUpstream upstream;
  upstream.setHandler([](const H2Request& request) {
    Reply reply;
    reply.status = 201;
    reply.headers = {{"X-Reply", "yes"}};
    reply.body = "hello " + request.path;
    reply.trailers = {{"x-checksum", "abc"}};
    return reply;
  });
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t id = client.request("GET", "/greet", "", {{"x-test", "1"}}, "example");
  ASSERT_TRUE(client.waitClosed(id));
  const auto& stream = client.stream(id);
  EXPECT_EQ(stream.error_code, 0u);
  EXPECT_EQ(stream.status, 201);
  EXPECT_EQ(stream.header("x-reply"), "yes");
  EXPECT_EQ(stream.body, "hello /greet");
  EXPECT_EQ(findHeader(stream.trailers, "x-checksum"), "abc");

  ASSERT_TRUE(upstream.waitForEndedNormally(1, kBound));
  const auto record = upstream.stream(1, id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->request.method, "GET");
  EXPECT_EQ(record->request.scheme, "http");
  EXPECT_EQ(record->request.authority, "example");
  EXPECT_EQ(record->request.path, "/greet");
  EXPECT_EQ(record->request.header("x-test"), "1");
  EXPECT_TRUE(record->endedNormally());
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_EQ(upstream.openConnections(), 1);
  const auto connection = upstream.connection(1);
  ASSERT_TRUE(connection);
  EXPECT_FALSE(connection->settings.empty());  // the client's SETTINGS were recorded
}

TEST(H2TestUpstream, RecordsRequestBodyTrailersPingAndGoaway) {
  H2TestUpstream upstream;
  const int fd = connectLoopback(upstream.port(), deadlineAfter(kBound));
  ASSERT_GE(fd, 0);
  const HeaderList head{{":method", "POST"}, {":scheme", "http"}, {":path", "/up"}, {":authority", "test"}};
  const std::string bytes = h2frames::preface() + h2frames::headers(1, head, false) + h2frames::data(1, "abc", false) +
                            h2frames::data(1, "def", false) + h2frames::headers(1, {{"x-trailer", "t"}}, true) +
                            pingFrame();
  ASSERT_EQ(writeAll(fd, bytes, -1, deadlineAfter(kBound)), IoResult::kOk);
  ASSERT_TRUE(upstream.waitForRequests(1, kBound));
  ASSERT_TRUE(upstream.waitForPings(1, kBound));
  const auto request = upstream.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, "abcdef");
  EXPECT_EQ(request.body_bytes, 6u);
  EXPECT_EQ(findHeader(request.trailers, "x-trailer"), "t");

  // GOAWAY(NO_ERROR, last 0) from the client.
  const std::string goaway = std::string("\x00\x00\x08\x07\x00\x00\x00\x00\x00", 9) + std::string(8, '\0');
  ASSERT_EQ(writeAll(fd, goaway, -1, deadlineAfter(kBound)), IoResult::kOk);
  ASSERT_TRUE(upstream.waitForGoaways(1, kBound));
  EXPECT_EQ(upstream.goawaysReceived().at(0).error_code, 0u);
  EXPECT_EQ(upstream.goawaysReceived().at(0).connection, 1);
  ::close(fd);
  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound));
  EXPECT_EQ(upstream.openConnections(), 0);
}

// Ten streams on one connection, five held and then cancelled by the client: exactly those five RST_STREAM(CANCEL)
// are recorded, the other five ended normally, and the connection stays usable.
TEST(H2TestUpstream, CancelledStreamsRecordedExactly) {
  H2TestUpstream upstream;
  upstream.setHandler(holdOrAnswer);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  std::vector<int32_t> held;
  std::vector<int32_t> answered;
  for (int i = 0; i < 10; ++i) {
    const bool hold = i % 2 == 0;
    const int32_t id = client.request("GET", (hold ? "/hold/" : "/answer/") + std::to_string(i));
    ASSERT_GT(id, 0);
    (hold ? held : answered).push_back(id);
  }
  ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == 10; }, kBound));
  for (const int32_t id : answered) ASSERT_TRUE(client.waitClosed(id));
  for (const int32_t id : held) client.reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(client.runUntil([&] { return upstream.resetsReceived().size() == 5; }, kBound));
  ASSERT_TRUE(upstream.waitForEndedNormally(5, kBound));

  std::vector<H2ResetRecord> expected;
  for (const int32_t id : held) expected.push_back({1, id, NGHTTP2_CANCEL});
  EXPECT_EQ(upstream.resetsReceived(), expected);
  for (const int32_t id : answered) {
    EXPECT_EQ(client.stream(id).body, "done " + upstream.stream(1, id)->request.path);
    EXPECT_TRUE(upstream.stream(1, id)->endedNormally());
  }
  for (const int32_t id : held) {
    ASSERT_TRUE(upstream.waitForStreamClosed(1, id, kBound));
    const auto record = upstream.stream(1, id);
    EXPECT_EQ(record->reset_received, NGHTTP2_CANCEL);
    EXPECT_FALSE(record->response_complete);
    EXPECT_FALSE(record->endedNormally());
  }
  EXPECT_EQ(upstream.streamsEndedNormally(), 5);

  // The connection is kept: no GOAWAY either way, and it still serves.
  const int32_t after = client.request("GET", "/after");
  ASSERT_TRUE(client.waitClosed(after));
  EXPECT_EQ(client.stream(after).body, "done /after");
  EXPECT_FALSE(client.goawayReceived());
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_EQ(upstream.openConnections(), 1);
  EXPECT_FALSE(upstream.connection(1)->goaway_sent);
}

TEST(H2TestUpstream, ResetLimitSendsEnhanceYourCalm) {
  H2TestUpstream::Options options;
  options.max_client_resets = 3;
  H2TestUpstream upstream(options);
  upstream.setHandler(holdOrAnswer);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  std::vector<int32_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(client.request("GET", "/hold"));
  // A reset submitted before its HEADERS went out only cancels them in nghttp2: wait for the server to see them.
  ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == 3; }, kBound));
  for (const int32_t id : ids) client.reset(id, NGHTTP2_CANCEL);
  // Three resets are within the limit.
  const int32_t probe = client.request("GET", "/probe");
  ASSERT_TRUE(client.waitClosed(probe));
  EXPECT_EQ(client.stream(probe).body, "done /probe");
  EXPECT_FALSE(client.goawayReceived());

  const int32_t fourth = client.request("GET", "/hold");
  ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == 5; }, kBound));
  client.reset(fourth, NGHTTP2_CANCEL);
  ASSERT_TRUE(client.runUntil([&] { return client.goawayReceived(); }, kBound));
  EXPECT_EQ(client.goawayCode(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound));
  EXPECT_EQ(upstream.connection(1)->goaway_sent, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(upstream.resetsReceived().size(), 4u);
  EXPECT_EQ(upstream.openConnections(), 0);
}

// Resets older than reset_window stop counting: three resets, a pause past the window, one more stays under the limit
// of three; four at once exceed it.
TEST(H2TestUpstream, ResetLimitCountsOnlyInsideWindow) {
  H2TestUpstream::Options options;
  options.max_client_resets = 3;
  options.reset_window = 50ms;
  H2TestUpstream upstream(options);
  upstream.setHandler(holdOrAnswer);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  size_t opened = 0;
  const auto resetBatch = [&](int n) {
    std::vector<int32_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(client.request("GET", "/hold"));
    opened += ids.size();
    ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == opened; }, kBound));
    for (const int32_t id : ids) client.reset(id, NGHTTP2_CANCEL);  // sent together in one write
  };
  resetBatch(3);
  ASSERT_TRUE(client.runUntil([&] { return upstream.resetsReceived().size() == 3; }, kBound));
  std::this_thread::sleep_for(100ms);  // a known minimum duration: twice the window
  resetBatch(1);
  const int32_t probe = client.request("GET", "/probe");
  ++opened;
  ASSERT_TRUE(client.waitClosed(probe));
  EXPECT_EQ(client.stream(probe).body, "done /probe");
  EXPECT_FALSE(client.goawayReceived());

  resetBatch(4);
  ASSERT_TRUE(client.runUntil([&] { return client.goawayReceived(); }, kBound));
  EXPECT_EQ(client.goawayCode(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2TestUpstream, HeldStreamIsReleased) {
  H2TestUpstream upstream;
  upstream.setHandler(holdOrAnswer);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t held = client.request("GET", "/hold/me");
  const int32_t other = client.request("GET", "/other");
  // The server handles streams in order, so once /other is answered /hold/me has been held, not answered.
  ASSERT_TRUE(client.waitClosed(other));
  EXPECT_FALSE(client.stream(held).closed);
  EXPECT_EQ(client.stream(held).status, 0);
  EXPECT_FALSE(upstream.stream(1, held)->response_complete);

  upstream.release(1, held);
  ASSERT_TRUE(client.waitClosed(held));
  EXPECT_EQ(client.stream(held).status, 200);
  EXPECT_EQ(client.stream(held).body, "done /hold/me");
  ASSERT_TRUE(upstream.waitForEndedNormally(2, kBound));
}

TEST(H2TestUpstream, ReleaseAllLetsHeldStreamsGoButNotLaterOnes) {
  H2TestUpstream upstream;
  upstream.setHandler(holdOrAnswer);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t a = client.request("GET", "/hold/a");
  const int32_t b = client.request("GET", "/hold/b");
  ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == 2; }, kBound));
  upstream.releaseAll();
  ASSERT_TRUE(client.waitClosed(a));
  ASSERT_TRUE(client.waitClosed(b));
  const int32_t later = client.request("GET", "/hold/later");
  const int32_t barrier = client.request("GET", "/barrier");
  ASSERT_TRUE(client.waitClosed(barrier));
  EXPECT_FALSE(client.stream(later).closed);
}

TEST(H2TestUpstream, HeadersThenHold) {
  H2TestUpstream upstream;
  upstream.setHandler([](const H2Request&) {
    Reply reply;
    reply.body = "helloworld";
    reply.hold = Hold::kAfterHeaders;
    reply.body_before_hold = 5;
    return reply;
  });
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t id = client.request("GET", "/partial");
  ASSERT_TRUE(client.runUntil([&] { return client.stream(id).body.size() >= 5; }, kBound));
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_EQ(client.stream(id).body, "hello");
  EXPECT_FALSE(client.stream(id).closed);
  upstream.release(1, id);
  ASSERT_TRUE(client.waitClosed(id));
  EXPECT_EQ(client.stream(id).body, "helloworld");
  EXPECT_EQ(client.stream(id).error_code, 0u);
}

TEST(H2TestUpstream, HeadersThenHoldCancelledByClient) {
  H2TestUpstream upstream;
  upstream.setHandler([](const H2Request&) {
    Reply reply;
    reply.stream_bytes = 1 << 20;
    reply.hold = Hold::kAfterHeaders;
    return reply;
  });
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t id = client.request("GET", "/head-only");
  ASSERT_TRUE(client.runUntil([&] { return client.stream(id).status == 200; }, kBound));
  client.reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(client.runUntil([&] { return !upstream.resetsReceived().empty(); }, kBound));
  ASSERT_TRUE(upstream.waitForStreamClosed(1, id, kBound));
  EXPECT_EQ(upstream.stream(1, id)->reset_received, NGHTTP2_CANCEL);
  EXPECT_EQ(upstream.resetsReceived().at(0), (H2ResetRecord{1, id, NGHTTP2_CANCEL}));
}

TEST(H2TestUpstream, SlowLargeBodyRespectsFlowControl) {
  H2TestUpstream upstream;
  upstream.setHandler([](const H2Request&) {
    Reply reply;
    reply.stream_bytes = 300 * 1024;  // beyond the client's 64 KiB connection window: needs its WINDOW_UPDATEs
    reply.chunk = 8 * 1024;
    reply.interval = 1ms;
    reply.trailers = {{"x-end", "1"}};
    return reply;
  });
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t id = client.requestGenerated("GET", "/big", 0, true);
  ASSERT_TRUE(client.waitClosed(id, kBound));
  EXPECT_EQ(client.stream(id).error_code, 0u);
  EXPECT_EQ(client.stream(id).body_bytes, 300u * 1024);
  EXPECT_TRUE(client.stream(id).body_matches_generated);
  EXPECT_EQ(findHeader(client.stream(id).trailers, "x-end"), "1");
}

TEST(H2TestUpstream, ReplyWithResetStream) {
  H2TestUpstream upstream;
  upstream.setHandler([](const H2Request&) {
    Reply reply;
    reply.reset_code = NGHTTP2_REFUSED_STREAM;
    return reply;
  });
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t id = client.request("GET", "/refuse");
  ASSERT_TRUE(client.waitClosed(id));
  EXPECT_EQ(client.stream(id).error_code, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  ASSERT_TRUE(upstream.waitForStreamClosed(1, id, kBound));
  EXPECT_EQ(upstream.stream(1, id)->reset_sent, NGHTTP2_REFUSED_STREAM);
  EXPECT_TRUE(upstream.resetsReceived().empty());
}

// GOAWAY(last 3) while streams 1 and 3 are held and 5 asked for it: 5 is never processed, 1 and 3 still complete,
// then the connection closes.
TEST(H2TestUpstream, GoawayLeavesStreamsAboveLastUnprocessed) {
  H2TestUpstream upstream;
  upstream.setHandler([](const H2Request& request) {
    Reply reply = holdOrAnswer(request);
    if (request.path == "/goaway") reply.goaway_last_stream_id = 3;
    return reply;
  });
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const int32_t one = client.request("GET", "/hold/1");
  const int32_t three = client.request("GET", "/hold/3");
  const int32_t five = client.request("GET", "/goaway");
  ASSERT_EQ(five, 5);
  ASSERT_TRUE(client.waitClosed(five));
  EXPECT_EQ(client.stream(five).error_code, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_EQ(client.goawayLastStreamIds(), std::vector<int32_t>{3});
  upstream.releaseAll();
  ASSERT_TRUE(client.waitClosed(one));
  ASSERT_TRUE(client.waitClosed(three));
  EXPECT_EQ(client.stream(one).body, "done /hold/1");
  EXPECT_EQ(client.stream(three).body, "done /hold/3");
  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound));
  EXPECT_EQ(upstream.connection(1)->goaway_sent, 0u);
  EXPECT_FALSE(upstream.stream(1, five)->response_complete);
  EXPECT_EQ(upstream.streamsEndedNormally(), 2);
}

TEST(H2TestUpstream, SeveralConnectionsCountedAndClosed) {
  H2TestUpstream upstream;
  H2Client a;
  H2Client b;
  H2Client c;
  for (H2Client* client : {&a, &b, &c}) {
    ASSERT_TRUE(client->connect(upstream.port()));
    const int32_t id = client->request("GET", "/");
    ASSERT_TRUE(client->waitClosed(id));
    EXPECT_EQ(client->stream(id).body, "ok");
  }
  EXPECT_EQ(upstream.acceptedConnections(), 3);
  EXPECT_EQ(upstream.openConnections(), 3);
  b.disconnect();
  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound));
  EXPECT_EQ(upstream.openConnections(), 2);
  EXPECT_FALSE(upstream.connection(2)->open);
  EXPECT_TRUE(upstream.connection(1)->open);
  std::set<int> connections;
  for (const auto& request : upstream.requests()) connections.insert(request.connection);
  EXPECT_EQ(connections, (std::set<int>{1, 2, 3}));
}

TEST(H2TestUpstream, ManyConcurrentStreamsOnOneConnection) {
  H2TestUpstream::Options options;
  options.max_concurrent_streams = 200;
  H2TestUpstream upstream(options);
  upstream.setHandler(holdOrAnswer);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  std::vector<int32_t> ids;
  for (int i = 0; i < 150; ++i) ids.push_back(client.request("GET", "/hold/" + std::to_string(i)));
  ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == 150; }, kBound));  // all open at once
  upstream.releaseAll();
  for (const int32_t id : ids) ASSERT_TRUE(client.waitClosed(id));
  ASSERT_TRUE(upstream.waitForEndedNormally(150, kBound));
}

// A small SETTINGS_INITIAL_WINDOW_SIZE makes the client's upload wait for the server's WINDOW_UPDATEs. A first
// request makes sure the client has applied the SETTINGS before its upload starts: nghttp2's server answers DATA that
// crosses a window shrunk below 65535 while in flight with RST_STREAM(FLOW_CONTROL_ERROR) (seen in 8 of 20 runs).
TEST(H2TestUpstream, UploadThroughSmallInitialWindow) {
  H2TestUpstream::Options options;
  options.initial_window_size = 16 * 1024;
  H2TestUpstream upstream(options);
  H2Client client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.waitClosed(client.request("GET", "/settings-applied")));
  const int32_t id = client.requestGenerated("POST", "/upload", 200 * 1000, false);
  ASSERT_TRUE(client.waitClosed(id, kBound));
  EXPECT_EQ(client.stream(id).error_code, 0u);
  EXPECT_EQ(client.stream(id).body, "ok");
  ASSERT_TRUE(upstream.waitForEndedNormally(2, kBound));
  const auto request = upstream.requests().at(1);
  EXPECT_EQ(request.body_bytes, 200u * 1000);
  EXPECT_EQ(request.body, generatedBody(200 * 1000));
}

TEST(H2TestUpstream, H2loadManyConnectionsAndStreams) {
  if (access("/usr/bin/h2load", X_OK) != 0) GTEST_SKIP() << "h2load not installed";
  H2TestUpstream upstream;
  Process h2load({"/usr/bin/h2load", "-n", "200", "-c", "4", "-m", "10", "http://" + upstream.address() + "/load"});
  ASSERT_EQ(h2load.waitExit(kBound), 0) << h2load.output();
  ASSERT_TRUE(upstream.waitForEndedNormally(200, kBound));
  EXPECT_EQ(upstream.acceptedConnections(), 4);
  EXPECT_EQ(upstream.requests().size(), 200u);
  EXPECT_TRUE(upstream.resetsReceived().empty());
}

TEST(H2TestUpstream, NghttpSeesSettingsAndReply) {
  if (access("/usr/bin/nghttp", X_OK) != 0) GTEST_SKIP() << "nghttp not installed";
  H2TestUpstream::Options options;
  options.max_concurrent_streams = 7;
  options.initial_window_size = 12345;
  H2TestUpstream upstream(options);
  upstream.setHandler([](const H2Request& request) {
    Reply reply;
    reply.body = "nghttp " + request.path;
    reply.trailers = {{"x-trailer", "here"}};
    return reply;
  });
  Process nghttp({"/usr/bin/nghttp", "-v", "http://" + upstream.address() + "/n"});
  ASSERT_EQ(nghttp.waitExit(kBound), 0) << nghttp.output();
  ASSERT_TRUE(nghttp.waitForOutput("x-trailer: here", kBound)) << nghttp.output();
  const std::string out = nghttp.output();
  EXPECT_NE(out.find("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7"), std::string::npos) << out;
  EXPECT_NE(out.find("SETTINGS_INITIAL_WINDOW_SIZE(0x04):12345"), std::string::npos) << out;
  EXPECT_NE(out.find("nghttp /n"), std::string::npos) << out;
  ASSERT_TRUE(upstream.waitForEndedNormally(1, kBound));
  ASSERT_TRUE(upstream.waitForGoaways(1, kBound));  // nghttp says goodbye with GOAWAY(NO_ERROR)
}

}  // namespace
}  // namespace tether::testing
