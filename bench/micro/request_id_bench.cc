// Request ids (RequestIdGenerator: xoshiro256**, 32 hex characters), one per request without a valid
// X-Request-Id.

#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "http/request_id.h"

namespace tether::bench {
namespace {

void BM_RequestId_Next(benchmark::State& state) {
  http::RequestIdGenerator generator(42);
  char id[32];
  AllocCounter allocs(state);
  for (auto _ : state) {
    generator.next(id);
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestId_Next);

// Seeding from std::random_device (once per worker; shown for scale).
void BM_RequestId_Seed(benchmark::State& state) {
  AllocCounter allocs(state);
  for (auto _ : state) {
    http::RequestIdGenerator generator;
    benchmark::DoNotOptimize(generator);
  }
}
BENCHMARK(BM_RequestId_Seed);

}  // namespace
}  // namespace tether::bench
