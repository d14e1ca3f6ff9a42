// The hot path stays allocation-free: acquiring when an idle connection is there, and queueing and cancelling a
// waiter, make no heap allocation (the waiter's record lives in the requester). Counts operator new calls; the
// counter is this test binary's only global state.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "pool_harness.h"

// GCC pairs the replaced operator new below with gtest's own delete-expressions and warns; they are one pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

std::atomic<size_t> g_allocations{0};

}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace tether::upstream {
namespace {

// Counts answers only: no allocation of its own.
class CountingRequester : public UpstreamRequester {
 public:
  // This pool's streams are its HTTP/1.1 connections.
  void onUpstreamReady(UpstreamStream& s) override { connection = static_cast<UpstreamConnection*>(&s); }
  void onUpstreamUnavailable(UpstreamError) override { ++failures; }
  UpstreamConnection* connection = nullptr;
  int failures = 0;
};

// Takes one response off a connection, so that it becomes reusable.
class ResponseSink : public UpstreamStreamEvents {
 public:
  upstream::ResponseBody onResponseHead(http::MessageHead&) override { return upstream::ResponseBody::AsFramed; }
  void onResponseBody(const char*, size_t) override {}
  void onResponseTrailers(const http::HeaderList&) override {}
  bool onResponseComplete() override {
    complete = true;
    return false;
  }
  void onUpstreamDrained() override {}
  void onUpstreamError(UpstreamError) override { failed = true; }
  void onTunnelData(evbuffer*) override {}
  void onTunnelClosed() override {}
  bool complete = false;
  bool failed = false;
};

// One request/response on `connection`, the test playing the upstream, then the connection goes back idle.
void completeOneExchange(PoolHarness& harness, UpstreamConnection& connection) {
  const int server = harness.acceptServerSide();
  ASSERT_GE(server, 0);
  ResponseSink sink;
  connection.start(sink, "GET");
  http::MessageHead request;
  request.method = "GET";
  request.target = "/";
  request.appendHeader("Host", "test");
  connection.sendRequestHead(request, http::BodyFraming::None);
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(::write(server, response.data(), response.size()), static_cast<ssize_t>(response.size()));
  ASSERT_TRUE(harness.runUntil([&] { return sink.complete || sink.failed; }));
  ASSERT_TRUE(sink.complete);
  connection.release(true);
  ASSERT_EQ(harness.pool().idleCount(), 1u);
}

TEST(AcquireAllocation, AnIdleConnectionIsHandedOverWithoutAllocating) {
  PoolHarness harness({});
  CountingRequester first, second;
  AcquireHandle h1 = harness.pool().acquire(first);
  ASSERT_TRUE(harness.runUntil([&] { return first.connection != nullptr; }));
  completeOneExchange(harness, *first.connection);

  const size_t before = g_allocations.load();
  {
    AcquireHandle h2 = harness.pool().acquire(second);
    EXPECT_FALSE(h2.pending());
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_EQ(second.connection, first.connection) << "the idle connection was not reused";
}

TEST(AcquireAllocation, QueueingAndCancellingAWaiterDoNotAllocate) {
  PoolHarness harness({});
  CountingRequester holder;
  std::vector<CountingRequester> waiters(8);
  AcquireHandle hh = harness.pool().acquire(holder);
  ASSERT_TRUE(harness.runUntil([&] { return holder.connection != nullptr; }));
  std::vector<AcquireHandle> handles(waiters.size());

  const size_t before = g_allocations.load();
  for (size_t i = 0; i < waiters.size(); ++i) handles[i] = harness.pool().acquire(waiters[i]);
  const size_t queued = harness.pool().waiterCount();
  handles[3].cancel();
  handles[0].cancel();
  handles[7].cancel();
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_EQ(queued, waiters.size());
  EXPECT_EQ(harness.pool().waiterCount(), waiters.size() - 3);
}

}  // namespace
}  // namespace tether::upstream
