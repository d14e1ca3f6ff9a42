// Proves "no allocation per line after warm-up" by counting this thread's heap allocations with the
// sanitizer allocator hooks (available in ASan builds; elsewhere the test is skipped).

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "log/log_queue.h"
#include "log/logger.h"

#if defined(__SANITIZE_ADDRESS__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace tether::log {
namespace {

#if defined(__SANITIZE_ADDRESS__)
// Hooks run inside malloc on every thread, so they may only touch plain thread-local counters.
thread_local bool counting = false;
thread_local size_t allocations = 0;

void onMalloc(const volatile void*, size_t) {
  if (counting) ++allocations;
}
void onFree(const volatile void*) {}

class AllocationCount {
 public:
  AllocationCount() {
    [[maybe_unused]] static const int installed = __sanitizer_install_malloc_and_free_hooks(onMalloc, onFree);
    allocations = 0;
    counting = true;
  }
  ~AllocationCount() { counting = false; }
  size_t count() const { return allocations; }
};
#endif

TEST(Allocation, LoggingAndDrainingDoNotAllocateAfterWarmUp) {
#if !defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "needs the sanitizer allocator hooks (configure with -DTETHER_SANITIZE=ON)";
#else
  LogQueue queue(16);
  Logger logger(&queue, Level::Info);
  std::string drained;
  drained.reserve(64 * 1024);
  const std::string path(100, 'p');
  auto logOne = [&](int i) {
    logger.line("request_completed").field("path", path).field("status", 200 + i % 300).field("ms", i * 0.5);
    logger.emit();
  };
  for (int i = 0; i < 64; ++i) {  // warm-up with the widest numbers: slots and builder reach full size
    logOne(9999 - i);
    drained.clear();
    queue.popInto(drained, drained.capacity());
  }

  AllocationCount count;
  for (int i = 0; i < 10000; ++i) {
    logOne(i);
    if (i % 8 == 0) logger.event(Level::Warn, "slow", "short message");
    if (i % 4 == 3) {
      drained.clear();
      queue.popInto(drained, drained.capacity());
    }
  }
  for (int i = 0; i < 100; ++i) queue.tryPush("full?");  // drops do not allocate either
  EXPECT_EQ(count.count(), 0u);
#endif
}

}  // namespace
}  // namespace tether::log
