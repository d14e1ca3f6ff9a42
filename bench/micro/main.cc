// tether_micro_bench: micro benchmarks of tether's request-path pieces. See README.md.

#include <benchmark/benchmark.h>

#include "alloc_counter.h"

int main(int argc, char** argv) {
  tether::bench::installLibeventHooks();  // before any libevent allocation
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
