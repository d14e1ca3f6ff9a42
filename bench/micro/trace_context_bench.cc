// W3C trace correlation on the request path (Exchange::onRequestHead): findTraceContext over a browser's 13 fields
// without a traceparent (what every request pays: one scan comparing name lengths) and a service call's fields with
// one (the scan and the parse), and the hex written into the record at the end of a traced exchange.

#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "http/http1_codec.h"
#include "http/trace_context.h"
#include "inputs.h"

namespace tether::bench {
namespace {

http::MessageHead parsedRequest(const std::string& input) {
  struct Keep : http::Http1CodecCallbacks {
    HeadAction onHead(http::MessageHead&) override { return HeadAction::Continue; }
    void onBody(const char*, size_t) override {}
    bool onMessageComplete() override { return true; }
  } cb;
  http::Http1Codec codec(http::Http1Codec::Kind::Request, cb, {});
  codec.feed(input.data(), input.size());
  return codec.head();
}

void BM_Trace_FindAbsent(benchmark::State& state) {
  const http::MessageHead head = parsedRequest(kBrowserGet);
  AllocCounter allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(http::findTraceContext(head.headers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Trace_FindAbsent);

void BM_Trace_FindAndParse(benchmark::State& state) {
  http::MessageHead head = parsedRequest(kApiPost);
  head.appendHeader("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  AllocCounter allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(http::findTraceContext(head.headers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Trace_FindAndParse);

void BM_Trace_WriteHex(benchmark::State& state) {
  const auto context = http::parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  char text[48];
  AllocCounter allocs(state);
  for (auto _ : state) {
    context->writeTraceId(text);
    context->writeParentId(text + 32);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Trace_WriteHex);

}  // namespace
}  // namespace tether::bench
