// What tether does to a request head before it goes upstream, and to a response head on its way back: each step
// alone (header_rules, message_writer) and the whole per-request path of an HTTP/1.1 exchange, reproduced from
// Exchange::onRequestHead / onResponseHead and DownstreamSession::sendResponseHead (which need live connections
// and pools, so the benchmark performs the same calls on the same kinds of objects).

#include <benchmark/benchmark.h>
#include <event2/buffer.h>
#include <strings.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "alloc_counter.h"
#include "bench_util.h"
#include "config/config.h"
#include "fixtures.h"
#include "http/body_framing.h"
#include "http/header_rules.h"
#include "http/http1_codec.h"
#include "http/message_writer.h"
#include "http/request_id.h"
#include "http/trace_context.h"
#include "inputs.h"
#include "net/socket_address.h"
#include "routing/router.h"
#include "util/libevent.h"

namespace tether::bench {
namespace {

using http::Http1Codec;

// ---- isolated steps ----

http::MessageHead parsedHead(const std::string& input) {
  struct Keep : http::Http1CodecCallbacks {
    HeadAction onHead(http::MessageHead&) override { return HeadAction::Continue; }
    void onBody(const char*, size_t) override {}
    bool onMessageComplete() override { return true; }
  } cb;
  Http1Codec codec(input.starts_with("HTTP/") ? Http1Codec::Kind::Response : Http1Codec::Kind::Request, cb, {});
  codec.feed(input.data(), input.size());
  return codec.head();
}

const net::SocketAddress kClient = *net::SocketAddress::parse("203.0.113.7:54321");
constexpr std::string_view kRequestId = "5d41402abc4b2a76b9719d911017c592";

// Restores `head` from `from` reusing its strings (what the step benchmarks subtract: see BM_Rewrite_ResetBaseline).
void reset(http::MessageHead& head, const http::MessageHead& from) {
  head.method = from.method;
  head.target = from.target;
  head.headers = from.headers;
}

void BM_Rewrite_ResetBaseline(benchmark::State& state) {
  const http::MessageHead tmpl = parsedHead(kBrowserGet);
  http::MessageHead head = tmpl;
  AllocCounter allocs(state);
  for (auto _ : state) {
    reset(head, tmpl);
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rewrite_ResetBaseline);

// Its allocations are the restore's: compaction moved each field's string into the previous slot, so copying the
// template back finds buffers that are too small (the same effect as on a reused codec head, see
// BM_RequestPath_BrowserGet). removeHopByHop itself does not allocate here.
void BM_Rewrite_RemoveHopByHop(benchmark::State& state) {
  const http::MessageHead tmpl = parsedHead(kBrowserGet);
  http::MessageHead head = tmpl;
  AllocCounter allocs(state);
  for (auto _ : state) {
    reset(head, tmpl);
    http::removeHopByHop(head.headers, false);
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rewrite_RemoveHopByHop);

// Its allocations are its own: the restore drops the fields it appended, and setHeader builds them anew (names
// and values longer than the 15-character SSO capacity).
void BM_Rewrite_ApplyRequestForwarding(benchmark::State& state) {
  http::MessageHead tmpl = parsedHead(kBrowserGet);
  http::removeHopByHop(tmpl.headers, false);
  http::MessageHead head = tmpl;
  const std::string client_ip = kClient.ip();
  AllocCounter allocs(state);
  for (auto _ : state) {
    reset(head, tmpl);
    const std::string* host = head.find("host");
    http::applyRequestForwarding(head, http::ForwardingInfo{client_ip, "http", *host, kRequestId});
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rewrite_ApplyRequestForwarding);

http::MessageHead forwardedHead() {
  http::MessageHead head = parsedHead(kBrowserGet);
  http::removeHopByHop(head.headers, false);
  const std::string host = *head.find("host");
  http::applyRequestForwarding(head, http::ForwardingInfo{"203.0.113.7", "http", host, kRequestId});
  return head;
}

// Serialising the rewritten head into a reused evbuffer (an upstream connection's output).
void BM_Rewrite_WriteRequestHead(benchmark::State& state) {
  const http::MessageHead head = forwardedHead();
  util::EvBufferPtr out(evbuffer_new());
  AllocCounter allocs(state);
  for (auto _ : state) {
    http::writeRequestHead(out.get(), head, http::BodyFraming::None);
    drain(out.get());
  }
  http::writeRequestHead(out.get(), head, http::BodyFraming::None);
  const auto size = static_cast<int64_t>(evbuffer_get_length(out.get()));
  state.SetBytesProcessed(state.iterations() * size);
  state.SetItemsProcessed(state.iterations());
  state.counters["output_B"] = static_cast<double>(size);
}
BENCHMARK(BM_Rewrite_WriteRequestHead);

// The same into a new evbuffer per request, as Exchange::onRequestHead does (pending_request_).
void BM_Rewrite_WriteRequestHead_NewEvbuffer(benchmark::State& state) {
  const http::MessageHead head = forwardedHead();
  AllocCounter allocs(state);
  for (auto _ : state) {
    util::EvBufferPtr out(evbuffer_new());
    http::writeRequestHead(out.get(), head, http::BodyFraming::None);
    benchmark::DoNotOptimize(out.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rewrite_WriteRequestHead_NewEvbuffer);

void BM_Rewrite_WriteResponseHead(benchmark::State& state) {
  http::MessageHead head = parsedHead(kApiResponse);
  http::removeHopByHop(head.headers, false);
  http::setRequestId(head, kRequestId);
  util::EvBufferPtr out(evbuffer_new());
  AllocCounter allocs(state);
  for (auto _ : state) {
    http::writeResponseHead(out.get(), head, http::BodyFraming::ContentLength);
    drain(out.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rewrite_WriteResponseHead);

// ---- the whole per-request path ----

// The per-request state Exchange::onRequestHead fills (a new Exchange per request: DownstreamSession::onHead).
struct ExchangeState {
  std::string method;
  std::string path;
  std::string client;
  char request_id[64];
  size_t request_id_len = 0;
  std::optional<http::TraceContext> trace;
  const config::Route* route = nullptr;
  bool request_chunked = false;
  util::EvBufferPtr pending_request;
  size_t request_head_length = 0;
  uint64_t bytes_received = 0;
  std::string_view requestId() const { return {request_id, request_id_len}; }
};

// A keep-alive downstream connection: the request codec's events run Exchange::onRequestHead's steps.
class RequestPath : public http::Http1CodecCallbacks {
 public:
  explicit RequestPath(int routes) : config_(makeConfig(routes)), router_(*config_), request_ids_(42) {}

  HeadAction onHead(http::MessageHead& head) override {
    exchange_ = std::make_unique<ExchangeState>();
    ExchangeState& x = *exchange_;
    x.method.assign(head.method);
    x.path.assign(head.path());
    x.client = kClient.toString();
    // assignRequestId
    const std::string* given = head.find("x-request-id");
    if (given && http::isValidRequestId(*given)) {
      x.request_id_len = given->size();
      std::memcpy(x.request_id, given->data(), x.request_id_len);
    } else {
      request_ids_.next(x.request_id);
      x.request_id_len = 32;
    }
    x.trace = http::findTraceContext(head.headers);
    const std::string* host_header = head.find("host");
    std::string_view host = host_header ? std::string_view(*host_header) : std::string_view();
    x.route = router_.match(host, head.path(), x.method);
    if (!x.route) {
      failed = true;
      return HeadAction::Continue;
    }
    http::removeHopByHop(head.headers, head.upgrade);
    host_header = head.find("host");
    host = host_header ? std::string_view(*host_header) : std::string_view();
    const std::string client_ip = kClient.ip();
    http::applyRequestForwarding(head, http::ForwardingInfo{client_ip, "http", host, x.requestId()});
    http::toOriginForm(head.target);
    http::BodyFraming framing = http::BodyFraming::None;
    if (head.chunked) {
      framing = http::BodyFraming::Chunked;
    } else if (head.content_length) {
      framing = http::BodyFraming::ContentLength;
    }
    x.request_chunked = framing == http::BodyFraming::Chunked;
    x.pending_request.reset(evbuffer_new());
    http::writeRequestHead(x.pending_request.get(), head, framing);
    x.request_head_length = evbuffer_get_length(x.pending_request.get());
    return HeadAction::Continue;
  }
  void onBody(const char* data, size_t len) override {
    exchange_->bytes_received += len;
    evbuffer_add(exchange_->pending_request.get(), data, len);
  }
  bool onMessageComplete() override {
    upstream_bytes += evbuffer_get_length(exchange_->pending_request.get());
    return true;
  }
  // The exchange ends (response sent): DownstreamSession drops it.
  void endExchange() { exchange_.reset(); }

  bool failed = false;
  uint64_t upstream_bytes = 0;

 private:
  std::unique_ptr<config::Config> config_;
  routing::Router router_;
  http::RequestIdGenerator request_ids_;
  std::unique_ptr<ExchangeState> exchange_;
};

// Steady state of a keep-alive connection: measured after 100 requests on the same codec.
void requestPath(benchmark::State& state, const std::string& input) {
  RequestPath path(10);
  Http1Codec codec(Http1Codec::Kind::Request, path, {});
  for (int i = 0; i < 100; ++i) {
    if (!feedAll(state, codec, input)) return;
    path.endExchange();
  }
  if (path.failed) {
    state.SkipWithError("no route matched");
    return;
  }
  AllocCounter allocs(state);
  for (auto _ : state) {
    if (!feedAll(state, codec, input)) break;
    path.endExchange();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_RequestPath_BrowserGet(benchmark::State& state) { requestPath(state, kBrowserGet); }
BENCHMARK(BM_RequestPath_BrowserGet);

void BM_RequestPath_ApiPost(benchmark::State& state) { requestPath(state, kApiPost); }
BENCHMARK(BM_RequestPath_ApiPost);

// An upstream connection's response codec feeding Exchange::onResponseHead and DownstreamSession's
// sendResponseHead / sendResponseBody (HTTP/1.1 keep-alive client, Content-Length response).
class ResponsePath : public http::Http1CodecCallbacks {
 public:
  explicit ResponsePath(evbuffer* out) : out_(out) {}
  HeadAction onHead(http::MessageHead& head) override {
    const bool no_body = method_ == "HEAD" || head.status == 204 || head.status == 304;
    http::removeHopByHop(head.headers, false);
    http::BodyFraming framing = http::BodyFraming::Chunked;
    if (no_body) {
      framing = head.content_length ? http::BodyFraming::ContentLength : http::BodyFraming::None;
    } else if (head.chunked) {
      framing = http::BodyFraming::Chunked;
    } else if (head.content_length) {
      framing = http::BodyFraming::ContentLength;
    }
    framing_ = framing;
    http::setRequestId(head, kRequestId);
    http::writeResponseHead(out_, head, framing);
    return no_body ? HeadAction::NoBody : HeadAction::Continue;
  }
  void onBody(const char* data, size_t len) override {
    if (framing_ == http::BodyFraming::Chunked) {
      http::writeChunk(out_, data, len);
    } else {
      evbuffer_add(out_, data, len);
    }
  }
  bool onMessageComplete() override { return true; }

 private:
  evbuffer* out_;
  std::string method_ = "GET";
  http::BodyFraming framing_ = http::BodyFraming::None;
};

void responsePath(benchmark::State& state, const std::string& input) {
  util::EvBufferPtr out(evbuffer_new());
  ResponsePath path(out.get());
  Http1Codec codec(Http1Codec::Kind::Response, path, {});
  for (int i = 0; i < 100; ++i) {
    codec.expectResponseTo("GET");
    if (!feedAll(state, codec, input)) return;
  }
  drain(out.get());
  AllocCounter allocs(state);
  for (auto _ : state) {
    codec.expectResponseTo("GET");
    if (!feedAll(state, codec, input)) break;
    drain(out.get());  // the kernel took it
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_ResponsePath_Api(benchmark::State& state) { responsePath(state, kApiResponse); }
BENCHMARK(BM_ResponsePath_Api);

void BM_ResponsePath_PlainApi(benchmark::State& state) { responsePath(state, kPlainApiResponse); }
BENCHMARK(BM_ResponsePath_PlainApi);

void BM_SocketAddress_ToString(benchmark::State& state) {
  AllocCounter allocs(state);
  for (auto _ : state) {
    std::string text = kClient.toString();
    benchmark::DoNotOptimize(text.data());
  }
}
BENCHMARK(BM_SocketAddress_ToString);

void BM_SocketAddress_Ip(benchmark::State& state) {
  AllocCounter allocs(state);
  for (auto _ : state) {
    std::string text = kClient.ip();
    benchmark::DoNotOptimize(text.data());
  }
}
BENCHMARK(BM_SocketAddress_Ip);

}  // namespace
}  // namespace tether::bench
