// Bodies through the real tether binary: 100 MiB each way with bounded memory (tether's RSS is
// sampled during the transfer), a stalled reader, and Expect: 100-continue.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kBigBody = 100 * kMiB;
// How far tether's RSS may grow above its idle level while 100 MiB flow through it. Buffering is
// bounded by watermarks of a few hundred KiB per direction; this leaves room for allocator and
// sanitizer noise while still catching a body buffered whole.
constexpr uint64_t kMaxRssGrowthKiB = 32 * 1024;
// Generous: only a stuck transfer should reach it, not a slow sanitizer build on a busy machine.
constexpr auto kTransferTimeout = 120s;
// And an absolute ceiling (an ASan build idles at about 26 MiB).
constexpr uint64_t kMaxRssKiB = 64 * 1024;

void reportRss(const char* what, uint64_t idle_kib, uint64_t peak_kib) {
  std::printf("[ INFO     ] tether RSS %s: idle %llu KiB, peak %llu KiB\n", what,
              static_cast<unsigned long long>(idle_kib), static_cast<unsigned long long>(peak_kib));
}

TetherOptions memoryTestOptions(const TestUpstream& upstream) {
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.small_sanitizer_quarantine = true;
  return options;
}

// tether's RSS once it has served a request (lazy allocations done).
uint64_t warmRssKiB(TetherInstance& tether) {
  RawClient client;
  EXPECT_TRUE(client.connect(tether.port()));
  EXPECT_TRUE(client.send(getRequest("/warmup")));
  EXPECT_TRUE(client.readResponse());
  // The exchange has ended (and freed what it held) once its line is logged.
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "", 1, 30s).size(), 1u);
  return rssKiB(tether.pid());
}

Reply streamReply(uint64_t bytes, bool chunked) {
  Reply reply;
  reply.stream_bytes = bytes;
  reply.chunked = chunked;
  reply.stream_chunk = 64 * 1024;
  return reply;
}

TEST(ProxyBody, H1ClientH1Upstream_ChunkedUpload100MiBWithBoundedMemory) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "got " + std::to_string(request.body_bytes);
    return reply;
  });
  TetherInstance tether(memoryTestOptions(upstream));
  const uint64_t idle_kib = warmRssKiB(tether);

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  RssSampler sampler(tether.pid());
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(sendChunkedBody(client, kBigBody, kTransferTimeout, kMiB, [&](uint64_t) { sampler.sample(); }));
  const auto response = client.readResponse(60s);
  sampler.stop();
  reportRss("during transfer", idle_kib, sampler.maxKiB());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "got " + std::to_string(kBigBody));

  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].body_bytes, kBigBody);
  EXPECT_TRUE(requests[1].body == generatedBody(RecordedRequest::kMaxKeptBody)) << "body bytes changed in transit";
  EXPECT_GE(sampler.samples(), 50) << "RSS is sampled about every MiB moved";
  EXPECT_LT(sampler.maxKiB(), idle_kib + kMaxRssGrowthKiB)
      << "tether RSS grew from " << idle_kib << " KiB to " << sampler.maxKiB() << " KiB";
  EXPECT_LT(sampler.maxKiB(), kMaxRssKiB);
}

TEST(ProxyBody, H1ClientH1Upstream_ChunkedDownload100MiBWithBoundedMemory) {
  TestUpstream upstream;
  TetherInstance tether(memoryTestOptions(upstream));
  const uint64_t idle_kib = warmRssKiB(tether);
  upstream.setHandler([](const RecordedRequest&) { return streamReply(kBigBody, /*chunked=*/true); });

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  RssSampler sampler(tether.pid());
  ASSERT_TRUE(client.send(getRequest("/download")));
  const auto response = readStreamedResponse(client, kTransferTimeout, kMiB, [&](uint64_t) { sampler.sample(); });
  sampler.stop();
  reportRss("during transfer", idle_kib, sampler.maxKiB());
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.chunked);
  EXPECT_TRUE(response.complete) << response.problem;
  EXPECT_EQ(response.body_bytes, kBigBody);
  EXPECT_TRUE(response.bodyMatchesGenerated()) << "first wrong byte at " << response.first_mismatch;
  EXPECT_GE(sampler.samples(), 50) << "RSS is sampled about every MiB moved";
  EXPECT_LT(sampler.maxKiB(), idle_kib + kMaxRssGrowthKiB)
      << "tether RSS grew from " << idle_kib << " KiB to " << sampler.maxKiB() << " KiB";
  EXPECT_LT(sampler.maxKiB(), kMaxRssKiB);

  // The connection is still usable.
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.body = "small";
    return reply;
  });
  ASSERT_TRUE(client.send(getRequest("/small")));
  const auto small = client.readResponse();
  ASSERT_TRUE(small);
  EXPECT_EQ(small->body, "small");
}

TEST(ProxyBody, H1ClientH1Upstream_ContentLengthDownload100MiBWithBoundedMemory) {
  TestUpstream upstream;
  TetherInstance tether(memoryTestOptions(upstream));
  const uint64_t idle_kib = warmRssKiB(tether);
  upstream.setHandler([](const RecordedRequest&) { return streamReply(kBigBody, /*chunked=*/false); });

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  RssSampler sampler(tether.pid());
  ASSERT_TRUE(client.send(getRequest("/download")));
  const auto response = readStreamedResponse(client, kTransferTimeout, kMiB, [&](uint64_t) { sampler.sample(); });
  sampler.stop();
  reportRss("during transfer", idle_kib, sampler.maxKiB());
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.chunked);
  EXPECT_EQ(response.header("Content-Length"), std::to_string(kBigBody));
  EXPECT_TRUE(response.complete) << response.problem;
  EXPECT_EQ(response.body_bytes, kBigBody);
  EXPECT_TRUE(response.bodyMatchesGenerated()) << "first wrong byte at " << response.first_mismatch;
  EXPECT_GE(sampler.samples(), 50) << "RSS is sampled about every MiB moved";
  EXPECT_LT(sampler.maxKiB(), idle_kib + kMaxRssGrowthKiB)
      << "tether RSS grew from " << idle_kib << " KiB to " << sampler.maxKiB() << " KiB";
  EXPECT_LT(sampler.maxKiB(), kMaxRssKiB);
}

TEST(ProxyBody, H1ClientH1Upstream_StalledReaderKeepsMemoryBounded) {
  TestUpstream upstream;
  TetherInstance tether(memoryTestOptions(upstream));
  const uint64_t idle_kib = warmRssKiB(tether);
  upstream.setHandler([](const RecordedRequest&) { return streamReply(kBigBody, /*chunked=*/false); });

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  RssSampler sampler(tether.pid());
  const int served_before = upstream.requestsServed();
  ASSERT_TRUE(client.send(getRequest("/download")));
  uint64_t stalled_at = 0;
  uint64_t rss_after_stall = 0;
  int served_during_stall = -1;
  // Read 1 MiB, then stop reading for 2 s while the upstream keeps sending as fast as it can.
  const auto response = readStreamedResponse(client, kTransferTimeout, kMiB, [&](uint64_t bytes) {
    sampler.sample();
    if (stalled_at != 0) return;
    stalled_at = bytes;
    // A sleep on purpose: the claim is an absence (the upstream does not get to finish its reply while
    // the client reads nothing), so the test must give it time to happen if tether buffered.
    std::this_thread::sleep_for(2s);
    rss_after_stall = rssKiB(tether.pid());
    served_during_stall = upstream.requestsServed();
  });
  sampler.stop();
  reportRss("during transfer", idle_kib, sampler.maxKiB());
  reportRss("after 2 s stall", idle_kib, rss_after_stall);
  EXPECT_GE(stalled_at, kMiB);
  EXPECT_LT(rss_after_stall, idle_kib + kMaxRssGrowthKiB)
      << "while the client was stalled tether RSS grew from " << idle_kib << " KiB to " << rss_after_stall << " KiB";
  EXPECT_EQ(served_during_stall, served_before) << "the upstream finished the 100 MiB reply while the client read only "
                                                << stalled_at << " bytes: tether buffered it";
  EXPECT_LT(sampler.maxKiB(), idle_kib + kMaxRssGrowthKiB)
      << "tether RSS grew from " << idle_kib << " KiB to " << sampler.maxKiB() << " KiB";
  EXPECT_LT(sampler.maxKiB(), kMaxRssKiB);
  // After the stall the whole body still arrives intact.
  EXPECT_TRUE(response.complete) << response.problem;
  EXPECT_EQ(response.body_bytes, kBigBody);
  EXPECT_TRUE(response.bodyMatchesGenerated()) << "first wrong byte at " << response.first_mismatch;
}

TEST(ProxyBody, H1ClientH1Upstream_ExpectContinueRelaysInterimResponse) {
  TestUpstream upstream;  // answers Expect: 100-continue with a 100 before reading the body
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "echo:" + request.body;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send("PUT /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"));
  const auto interim = client.readResponse(30s);
  ASSERT_TRUE(interim) << "no 100 Continue before the body was sent";
  EXPECT_EQ(interim->status, 100);
  EXPECT_EQ(interim->head.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << interim->head;
  ASSERT_TRUE(client.send("hello world"));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "echo:hello world");
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(headerHasToken(requests[0].headers, "Expect", "100-continue"));
  EXPECT_EQ(requests[0].body, "hello world");
}

}  // namespace
}  // namespace tether::testing
