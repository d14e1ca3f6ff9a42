// Http1CodecPool: a codec handed back between messages comes out as good as new for another connection, with its
// events going to the new owner; the pool keeps at most its cap.

#include "http/http1_codec_pool.h"

#include <gtest/gtest.h>

#include "codec_recorder.h"

namespace tether::http::testing {
namespace {

constexpr std::string_view kGet = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(Http1CodecPool, AReleasedCodecIsReusedAndReportsToItsNewOwner) {
  Http1CodecPool pool;
  CodecRecorder first;
  auto codec = pool.acquire(Http1Codec::Kind::Request, first, {});
  Http1Codec* raw = codec.get();
  EXPECT_EQ(feedAll(*codec, kGet), kGet.size());
  ASSERT_EQ(first.messages.size(), 1u);
  pool.release(std::move(codec));
  EXPECT_EQ(pool.spare(Http1Codec::Kind::Request), 1u);

  CodecRecorder second;
  codec = pool.acquire(Http1Codec::Kind::Request, second, {});
  EXPECT_EQ(codec.get(), raw);  // no allocation for the next connection
  EXPECT_EQ(pool.spare(Http1Codec::Kind::Request), 0u);
  EXPECT_EQ(feedAll(*codec, "POST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 2\r\n\r\nhi"), 50u);
  ASSERT_EQ(second.messages.size(), 1u);
  EXPECT_EQ(second.messages[0].head.target, "/b");
  EXPECT_EQ(second.messages[0].body, "hi");
  EXPECT_EQ(first.messages.size(), 1u);  // the old owner hears nothing more
}

TEST(Http1CodecPool, ResetClearsAnErrorAndTheHeadLimit) {
  Http1CodecPool pool;
  CodecRecorder first;
  auto codec = pool.acquire(Http1Codec::Kind::Request, first, Http1Codec::Limits{16});
  feedAll(*codec, kGet);  // the head is longer than 16 bytes
  ASSERT_EQ(codec->status(), Http1Codec::Status::Error);
  pool.release(std::move(codec));
  CodecRecorder second;
  codec = pool.acquire(Http1Codec::Kind::Request, second, {});
  EXPECT_EQ(codec->status(), Http1Codec::Status::Ok);
  EXPECT_EQ(feedAll(*codec, kGet), kGet.size());
  ASSERT_EQ(second.messages.size(), 1u);
  EXPECT_TRUE(second.messages[0].complete);
}

TEST(Http1CodecPool, KeepsAtMostItsCapAndSeparatesKinds) {
  Http1CodecPool pool(1);
  CodecRecorder rec;
  auto a = pool.acquire(Http1Codec::Kind::Request, rec, {});
  auto b = pool.acquire(Http1Codec::Kind::Request, rec, {});
  auto c = pool.acquire(Http1Codec::Kind::Response, rec, {});
  pool.release(std::move(a));
  pool.release(std::move(b));
  pool.release(std::move(c));
  EXPECT_EQ(pool.spare(Http1Codec::Kind::Request), 1u);
  EXPECT_EQ(pool.spare(Http1Codec::Kind::Response), 1u);
  EXPECT_EQ(pool.acquire(Http1Codec::Kind::Response, rec, {})->kind(), Http1Codec::Kind::Response);
}

}  // namespace
}  // namespace tether::http::testing
