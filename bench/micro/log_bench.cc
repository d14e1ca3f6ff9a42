// Access/cancellation log lines, built as Exchange::logCompletion and Exchange::logCancellation build them
// (Logger::line -> JsonLine fields -> Logger::emit into the worker's LogQueue), and their pieces.

#include <benchmark/benchmark.h>

#include <chrono>
#include <optional>
#include <string>

#include "alloc_counter.h"
#include "config/config.h"
#include "log/json_escape.h"
#include "log/json_line.h"
#include "log/log_queue.h"
#include "log/logger.h"
#include "log/timestamp_formatter.h"
#include "net/socket_address.h"
#include "outcome/outcome.h"

namespace tether::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t millisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// The members of an Exchange that its log lines read.
struct ExchangeFields {
  std::string request_id = "5d41402abc4b2a76b9719d911017c592";
  std::string route = "shop";
  std::string method = "GET";
  std::string path = "/static/js/app.3f9c2b71.js";
  std::string client = "203.0.113.7:54321";
  std::string_view protocol = "http/1.1";
  std::string upstream = "shop-backend";
  std::optional<net::SocketAddress> endpoint = net::SocketAddress::parse("10.0.0.12:8080");
  int status = 200;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 48213;
  // Over a second ago, so that elapsed_ms keeps its number of digits while a benchmark runs and the lines keep
  // their length (a line growing by a digit would make every queue slot reallocate once).
  Clock::time_point started = Clock::now() - std::chrono::milliseconds(1234);
  std::optional<Clock::time_point> sent_upstream = Clock::now() - std::chrono::milliseconds(1201);
};

// Exchange::writeCommonFields.
void writeCommonFields(log::JsonLine& line, const ExchangeFields& x) {
  line.field("request_id", std::string_view(x.request_id))
      .field("route", std::string_view(x.route))
      .field("method", std::string_view(x.method))
      .field("path", std::string_view(x.path))
      .field("client", std::string_view(x.client))
      .field("protocol", x.protocol)
      .field("upstream", std::string_view(x.upstream));
  if (x.endpoint) {
    line.field("endpoint", std::string_view(x.endpoint->toString()));
  } else {
    line.nullField("endpoint");
  }
}

// Exchange::logCompletion.
void logCompletion(log::Logger& logger, const ExchangeFields& x) {
  if (!logger.enabled(config::Log::Level::Info)) return;
  auto& line = logger.line("request_completed");
  writeCommonFields(line, x);
  line.field("status", static_cast<int64_t>(x.status))
      .field("elapsed_ms", millisSince(x.started))
      .field("bytes_received", x.bytes_received)
      .field("bytes_sent", x.bytes_sent);
  logger.emit();
}

// Exchange::logCancellation (with writeDepartureFields).
void logCancellation(log::Logger& logger, const ExchangeFields& x) {
  auto& line = logger.line("request_cancelled", config::Log::Level::Warn);
  writeCommonFields(line, x);
  line.field("phase", toString(Phase::AwaitingResponse))
      .field("reason", logName(Outcome::ClientClosed))
      .field("elapsed_ms", millisSince(x.started));
  if (x.sent_upstream) {
    line.field("upstream_elapsed_ms", millisSince(*x.sent_upstream));
  } else {
    line.nullField("upstream_elapsed_ms");
  }
  line.field("bytes_received", x.bytes_received).field("bytes_sent", uint64_t{0}).field("status", int64_t{499});
  logger.emit();
}

// A worker's Logger and LogQueue. The writer thread's side (popping lines) runs outside the timed region.
template <void (*Log)(log::Logger&, const ExchangeFields&)>
void logLines(benchmark::State& state) {
  constexpr size_t kQueueLines = 8192;  // log.queue_lines default
  log::LogQueue queue(kQueueLines);
  log::Logger logger(&queue, config::Log::Level::Info);
  const ExchangeFields x;
  std::string sink;
  // Warm-up: every queue slot and the line buffer reach their size once.
  for (size_t i = 0; i < kQueueLines; ++i) Log(logger, x);
  queue.popInto(sink, SIZE_MAX);
  const size_t line_size = sink.size() / kQueueLines;
  size_t pending = 0;
  AllocCounter allocs(state);
  for (auto _ : state) {
    Log(logger, x);
    if (++pending == kQueueLines / 2) {
      state.PauseTiming();
      sink.clear();
      queue.popInto(sink, SIZE_MAX);
      pending = 0;
      state.ResumeTiming();
    }
  }
  if (queue.dropped() != 0) state.SkipWithError("log lines dropped");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line_size));
  state.SetItemsProcessed(state.iterations());
  state.counters["line_B"] = static_cast<double>(line_size);
}

void BM_Log_RequestCompleted(benchmark::State& state) { logLines<&logCompletion>(state); }
BENCHMARK(BM_Log_RequestCompleted);

void BM_Log_RequestCancelled(benchmark::State& state) { logLines<&logCancellation>(state); }
BENCHMARK(BM_Log_RequestCancelled);

// The line alone (JsonLine, no Logger/queue): fields of a request_completed line, timestamp included.
void BM_JsonLine_RequestCompleted(benchmark::State& state) {
  log::JsonLine line;
  const ExchangeFields x;
  AllocCounter allocs(state);
  for (auto _ : state) {
    line.begin("request_completed", std::chrono::system_clock::now()).field("level", "info");
    writeCommonFields(line, x);
    line.field("status", static_cast<int64_t>(x.status))
        .field("elapsed_ms", int64_t{12})
        .field("bytes_received", x.bytes_received)
        .field("bytes_sent", x.bytes_sent);
    std::string_view text = line.finish();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JsonLine_RequestCompleted);

void BM_Timestamp_Format(benchmark::State& state) {
  log::TimestampFormatter formatter;
  std::string out;
  out.reserve(64);
  AllocCounter allocs(state);
  for (auto _ : state) {
    out.clear();
    formatter.append(out, std::chrono::system_clock::now());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Timestamp_Format);

// appendJsonEscaped on a path (plain ASCII), a user agent with quotes, and a UTF-8 path with an invalid byte.
void BM_JsonEscape(benchmark::State& state) {
  static const std::string kInputs[] = {
      "/static/js/app.3f9c2b71.js",
      R"(Mozilla/5.0 (X11; Linux x86_64) "quoted" \back\slash AppleWebKit/537.36 (KHTML, like Gecko))",
      "/produkte/k\xc3\xbc"
      "chenger\xc3\xa4te/m\xc3\xbchle-\xe2\x82\xac"
      "129/\xff"
      "bad",
  };
  const std::string& input = kInputs[state.range(0)];
  std::string out;
  out.reserve(512);
  AllocCounter allocs(state);
  for (auto _ : state) {
    out.clear();
    log::appendJsonEscaped(out, input);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.SetLabel(state.range(0) == 0 ? "ascii_path" : state.range(0) == 1 ? "user_agent_escapes" : "utf8_invalid");
}
BENCHMARK(BM_JsonEscape)->DenseRange(0, 2);

}  // namespace
}  // namespace tether::bench
