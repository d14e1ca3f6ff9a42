#pragma once

// Heap accounting for the micro benchmarks. The executable replaces the global operator new/delete (every C++
// allocation, libstdc++'s included) and installs libevent's allocator hooks (evbuffer chains, events), so a
// benchmark can report how much heap churn one operation causes:
//
//   allocs/op     C++ operator new calls per iteration
//   alloc_B/op    bytes those calls obtained (malloc_usable_size, so what the allocator really handed out)
//   ev_allocs/op  libevent malloc/calloc/realloc calls per iteration (only shown when not zero)
//   live_B/op     net growth of live heap bytes per iteration (only shown when at least 1): memory an operation
//                 keeps, e.g. a container that grows on every request of a reused connection
//
// Counts are rounded to 0.01 per operation (bytes to 1): the benchmark framework allocates a few times per run,
// not per iteration, and would otherwise leave values like 1.3e-6.
//
// Counting is per thread (thread_local): the benchmarks are single-threaded, and the counters cost nothing
// but an add on the allocation path.

#include <benchmark/benchmark.h>

#include <cstdint>

namespace tether::bench {

struct HeapCounts {
  uint64_t allocs = 0;     // operator new
  uint64_t bytes = 0;      // bytes obtained through operator new
  uint64_t ev_allocs = 0;  // libevent malloc/calloc/realloc
  int64_t live_bytes = 0;  // allocated minus freed, both sources
};

HeapCounts heapCounts();

// Installs libevent's allocator hooks. Must run before libevent allocates anything (first thing in main()).
void installLibeventHooks();

// Measures the heap activity between its construction and its destruction and reports it as per-iteration
// counters. Construct it right before the `for (auto _ : state)` loop.
class AllocCounter {
 public:
  explicit AllocCounter(benchmark::State& state) : state_(state), start_(heapCounts()) {}
  AllocCounter(const AllocCounter&) = delete;
  AllocCounter& operator=(const AllocCounter&) = delete;
  ~AllocCounter();

 private:
  benchmark::State& state_;
  HeapCounts start_;
};

}  // namespace tether::bench
