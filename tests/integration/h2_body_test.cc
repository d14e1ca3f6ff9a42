// 100 MiB each way over one HTTP/2 stream with bounded tether memory: HTTP/2 flow control is tied to the HTTP/1.1
// upstream's backpressure, so neither direction is buffered whole.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "support/h2_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kBigBody = 100 * kMiB;
// As in proxy_body_test: room for allocator and sanitizer noise, not for a body buffered whole.
constexpr uint64_t kMaxRssGrowthKiB = 32 * 1024;
constexpr uint64_t kMaxRssKiB = 64 * 1024;
constexpr auto kTransferTimeout = 120s;  // only a stuck transfer should reach it

// Runs the client until stream `id` closes, sampling tether's RSS about every MiB moved either way (so the number
// of samples depends on the bytes, not on how fast the machine is).
bool runSampling(H2Client& client, int32_t id, RssSampler& sampler) {
  uint64_t next = kMiB;
  return client.runUntil(
      [&] {
        const auto& s = client.stream(id);
        for (const uint64_t moved = s.request_offset + s.body_bytes; moved >= next; next += kMiB) sampler.sample();
        return s.closed;
      },
      kTransferTimeout);
}

uint64_t warmRssKiB(TetherInstance& tether) {
  H2Client client;
  EXPECT_TRUE(client.connect(tether.port()));
  const int32_t id = client.request("GET", "/warmup");
  EXPECT_TRUE(client.waitClosed(id));
  // The exchange has ended (and freed what it held) once its line is logged.
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "", 1, 30s).size(), 1u);
  return rssKiB(tether.pid());
}

TetherOptions memoryTestOptions(const TestUpstream& upstream) {
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.small_sanitizer_quarantine = true;
  return options;
}

TEST(H2Body, H2cClientH1Upstream_Upload100MiBWithBoundedMemory) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "got " + std::to_string(request.body_bytes);
    return reply;
  });
  TetherInstance tether(memoryTestOptions(upstream));
  const uint64_t idle_kib = warmRssKiB(tether);

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  RssSampler sampler(tether.pid());
  const int32_t id = client.requestGenerated("POST", "/upload", kBigBody, false);
  ASSERT_TRUE(runSampling(client, id, sampler));
  sampler.stop();
  std::printf("[ INFO     ] tether RSS: idle %llu KiB, peak %llu KiB\n", static_cast<unsigned long long>(idle_kib),
              static_cast<unsigned long long>(sampler.maxKiB()));
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_EQ(client.stream(id).body, "got " + std::to_string(kBigBody));
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].body_bytes, kBigBody);
  EXPECT_TRUE(requests[1].body == generatedBody(RecordedRequest::kMaxKeptBody)) << "body bytes changed in transit";
  EXPECT_GE(sampler.samples(), 50) << "RSS is sampled about every MiB moved";
  EXPECT_LT(sampler.maxKiB(), idle_kib + kMaxRssGrowthKiB);
  EXPECT_LT(sampler.maxKiB(), kMaxRssKiB);
}

TEST(H2Body, H2cClientH1Upstream_Download100MiBWithBoundedMemory) {
  TestUpstream upstream;
  TetherInstance tether(memoryTestOptions(upstream));
  const uint64_t idle_kib = warmRssKiB(tether);
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.stream_bytes = kBigBody;
    reply.chunked = true;
    reply.stream_chunk = 64 * 1024;
    return reply;
  });

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  RssSampler sampler(tether.pid());
  const int32_t id = client.requestGenerated("GET", "/download", 0, true);
  ASSERT_TRUE(runSampling(client, id, sampler));
  sampler.stop();
  std::printf("[ INFO     ] tether RSS: idle %llu KiB, peak %llu KiB\n", static_cast<unsigned long long>(idle_kib),
              static_cast<unsigned long long>(sampler.maxKiB()));
  const auto& s = client.stream(id);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.error_code, 0u);
  EXPECT_EQ(s.body_bytes, kBigBody);
  EXPECT_TRUE(s.body_matches_generated);
  EXPECT_GE(sampler.samples(), 50) << "RSS is sampled about every MiB moved";
  EXPECT_LT(sampler.maxKiB(), idle_kib + kMaxRssGrowthKiB);
  EXPECT_LT(sampler.maxKiB(), kMaxRssKiB);
}

}  // namespace
}  // namespace tether::testing
