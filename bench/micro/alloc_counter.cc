#include "alloc_counter.h"

#include <event2/event.h>
#include <malloc.h>

#include <cmath>
#include <cstdlib>
#include <new>

namespace tether::bench {
namespace {

// Constant-initialized: usable by allocations made before main() and during thread start-up.
thread_local HeapCounts t_counts;

void* countedNew(std::size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  ++t_counts.allocs;
  const auto usable = malloc_usable_size(p);
  t_counts.bytes += usable;
  t_counts.live_bytes += static_cast<int64_t>(usable);
  return p;
}

void* countedAlignedNew(std::size_t size, std::align_val_t align) {
  const auto alignment = static_cast<std::size_t>(align);
  const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  ++t_counts.allocs;
  const auto usable = malloc_usable_size(p);
  t_counts.bytes += usable;
  t_counts.live_bytes += static_cast<int64_t>(usable);
  return p;
}

void countedFree(void* p) noexcept {
  if (p == nullptr) return;
  t_counts.live_bytes -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}

void* eventMalloc(size_t size) {
  void* p = std::malloc(size);
  if (p != nullptr) {
    ++t_counts.ev_allocs;
    t_counts.live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  }
  return p;
}

void* eventRealloc(void* old, size_t size) {
  const auto old_size = old != nullptr ? static_cast<int64_t>(malloc_usable_size(old)) : 0;
  void* p = std::realloc(old, size);
  if (p != nullptr) {
    ++t_counts.ev_allocs;
    t_counts.live_bytes += static_cast<int64_t>(malloc_usable_size(p)) - old_size;
  }
  return p;
}

}  // namespace

HeapCounts heapCounts() { return t_counts; }

void installLibeventHooks() { event_set_mem_functions(&eventMalloc, &eventRealloc, &countedFree); }

AllocCounter::~AllocCounter() {
  const HeapCounts end = heapCounts();
  const double iterations = state_.iterations() > 0 ? static_cast<double>(state_.iterations()) : 1.0;
  // Per operation, rounded: the framework itself allocates a few times per run (not per iteration), which would
  // otherwise show up as values like 1.3e-6.
  const auto perOp = [&](double total, double unit) { return std::round(total / iterations / unit) * unit; };
  state_.counters["allocs/op"] = perOp(static_cast<double>(end.allocs - start_.allocs), 0.01);
  state_.counters["alloc_B/op"] = perOp(static_cast<double>(end.bytes - start_.bytes), 1);
  const double ev_allocs = perOp(static_cast<double>(end.ev_allocs - start_.ev_allocs), 0.01);
  if (ev_allocs != 0) state_.counters["ev_allocs/op"] = ev_allocs;
  const double live = perOp(static_cast<double>(end.live_bytes - start_.live_bytes), 1);
  if (live != 0) state_.counters["live_B/op"] = live;
}

}  // namespace tether::bench

// Global replacements (they must be at global scope, not inline).
void* operator new(std::size_t size) { return tether::bench::countedNew(size); }
void* operator new[](std::size_t size) { return tether::bench::countedNew(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return tether::bench::countedNew(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return tether::bench::countedNew(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) { return tether::bench::countedAlignedNew(size, align); }
void* operator new[](std::size_t size, std::align_val_t align) { return tether::bench::countedAlignedNew(size, align); }
void operator delete(void* p) noexcept { tether::bench::countedFree(p); }
void operator delete[](void* p) noexcept { tether::bench::countedFree(p); }
void operator delete(void* p, std::size_t) noexcept { tether::bench::countedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { tether::bench::countedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { tether::bench::countedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { tether::bench::countedFree(p); }
void operator delete(void* p, std::align_val_t) noexcept { tether::bench::countedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { tether::bench::countedFree(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { tether::bench::countedFree(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { tether::bench::countedFree(p); }
