// HTTP/1.1 parsing through tether's codec (llhttp plus tether's strictness checks), as a downstream session and
// an upstream connection drive it.

#include <benchmark/benchmark.h>

#include <memory>

#include "alloc_counter.h"
#include "bench_util.h"
#include "http/http1_codec.h"
#include "inputs.h"

namespace tether::bench {
namespace {

using http::Http1Codec;

// Does what a session does with the events, minus the forwarding: looks at the head, counts body bytes, asks for
// a pause after every message (DownstreamSession::onMessageComplete returns true: one request at a time).
class ParseOnly : public http::Http1CodecCallbacks {
 public:
  HeadAction onHead(http::MessageHead& head) override {
    benchmark::DoNotOptimize(head.headers.data());
    ++heads;
    return HeadAction::Continue;
  }
  void onBody(const char* data, size_t len) override {
    benchmark::DoNotOptimize(data);
    body_bytes += len;
  }
  bool onMessageComplete() override {
    ++messages;
    return true;
  }

  size_t heads = 0;
  size_t messages = 0;
  size_t body_bytes = 0;
};

// Requests on one keep-alive connection: the codec and its MessageHead are reused (warm string buffers).
void parseRequests(benchmark::State& state, const std::string& input, int64_t messages_per_input) {
  ParseOnly cb;
  Http1Codec codec(Http1Codec::Kind::Request, cb, {});
  if (!feedAll(state, codec, input)) return;  // warm-up: the head's strings reach their size
  AllocCounter allocs(state);
  for (auto _ : state) {
    if (!feedAll(state, codec, input)) break;
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.SetItemsProcessed(state.iterations() * messages_per_input);
  state.counters["input_B"] = static_cast<double>(input.size());
}

void BM_Parse_BrowserGet(benchmark::State& state) { parseRequests(state, kBrowserGet, 1); }
BENCHMARK(BM_Parse_BrowserGet);

void BM_Parse_ApiPost(benchmark::State& state) { parseRequests(state, kApiPost, 1); }
BENCHMARK(BM_Parse_ApiPost);

void BM_Parse_Pipelined8(benchmark::State& state) { parseRequests(state, kPipelinedBatch, kPipelinedRequests); }
BENCHMARK(BM_Parse_Pipelined8);

// The first request of a new connection: a fresh codec (DownstreamSession creates one per connection), cold strings.
void BM_Parse_BrowserGet_NewConnection(benchmark::State& state) {
  ParseOnly cb;
  AllocCounter allocs(state);
  for (auto _ : state) {
    auto codec = std::make_unique<Http1Codec>(Http1Codec::Kind::Request, cb, Http1Codec::Limits{});
    if (!feedAll(state, *codec, kBrowserGet)) break;
    benchmark::DoNotOptimize(codec.get());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBrowserGet.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Parse_BrowserGet_NewConnection);

// The upstream's answer on a reused upstream connection: expectResponseTo() before each one, as
// UpstreamConnection::bind does.
void BM_Parse_ApiResponse(benchmark::State& state) {
  ParseOnly cb;
  Http1Codec codec(Http1Codec::Kind::Response, cb, {});
  codec.expectResponseTo("GET");
  if (!feedAll(state, codec, kApiResponse)) return;
  AllocCounter allocs(state);
  for (auto _ : state) {
    codec.expectResponseTo("GET");
    if (!feedAll(state, codec, kApiResponse)) break;
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kApiResponse.size()));
  state.SetItemsProcessed(state.iterations());
  state.counters["input_B"] = static_cast<double>(kApiResponse.size());
}
BENCHMARK(BM_Parse_ApiResponse);

}  // namespace
}  // namespace tether::bench
