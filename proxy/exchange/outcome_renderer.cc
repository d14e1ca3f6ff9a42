#include "exchange/outcome_renderer.h"

#include <chrono>

namespace tether {
namespace {

int64_t millis(OutcomeRecord::Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

std::string withoutNewline(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

std::string OutcomeRenderer::render(const OutcomeRecord& record, log::Logger& logger, bool access_log) {
  std::string kept;
  if (record.cancelled()) kept = withoutNewline(cancelled(record, logger));
  if (record.departure) {
    const std::string_view gone = clientGone(record, logger);
    if (kept.empty()) kept = withoutNewline(gone);
    return kept;
  }
  if (!record.cancelled() && access_log && logger.enabled(log::Level::Info)) completed(record, logger);
  return kept;
}

void OutcomeRenderer::writeCommonFields(const OutcomeRecord& record, log::JsonLine& line) {
  line.field("request_id", record.request_id)
      .field("route", record.route_name)
      .field("method", record.method)
      .field("path", record.path)
      .field("client", record.client)
      .field("protocol", record.protocol)
      .field("upstream", record.upstream);
  if (!record.endpoint.empty()) {
    line.field("endpoint", record.endpoint);
  } else {
    line.nullField("endpoint");
  }
  writeUpstreamProtocol(record, line);
  writeTraceFields(record, line);
}

// The upstream side's protocol (null: no upstream was chosen) and, for the cancellation events, what tether sent
// to stop the upstream's work (null: nothing).
void OutcomeRenderer::writeUpstreamProtocol(const OutcomeRecord& record, log::JsonLine& line) {
  if (!record.upstream_protocol.empty()) {
    line.field("upstream_protocol", record.upstream_protocol);
  } else {
    line.nullField("upstream_protocol");
  }
}

void OutcomeRenderer::writeUpstreamReset(const OutcomeRecord& record, log::JsonLine& line) {
  if (!record.upstream_reset.empty()) {
    line.field("upstream_reset", record.upstream_reset);
  } else {
    line.nullField("upstream_reset");
  }
}

// W3C Trace Context: the ids of the request's traceparent, so the line can be found next to the application's own
// spans; null when the request carried no valid one.
void OutcomeRenderer::writeTraceFields(const OutcomeRecord& record, log::JsonLine& line) {
  if (record.trace) {
    line.field("trace_id", std::string_view(record.trace->trace_id, sizeof(record.trace->trace_id)))
        .field("parent_span_id", std::string_view(record.trace->parent_span_id, sizeof(record.trace->parent_span_id)));
  } else {
    line.nullField("trace_id").nullField("parent_span_id");
  }
}

// phase, reason, elapsed and upstream_elapsed: shared by request_cancelled and client_gone.
void OutcomeRenderer::writeDepartureFields(const OutcomeRecord& record, log::JsonLine& line, Phase phase,
                                           std::string_view reason) {
  if (!record.h2_error.empty()) line.field("h2_error", record.h2_error);
  line.field("phase", toString(phase)).field("reason", reason).field("elapsed_ms", millis(record.elapsed));
  if (record.upstream_elapsed) {
    line.field("upstream_elapsed_ms", millis(*record.upstream_elapsed));
  } else {
    line.nullField("upstream_elapsed_ms");
  }
  writeUpstreamReset(record, line);
}

// gRPC: every request event has both fields, null for a request that is not gRPC (or no status was known).
void OutcomeRenderer::writeGrpcFields(const OutcomeRecord& record, log::JsonLine& line) {
  if (!record.grpc_method.empty()) {
    line.field("grpc_method", record.grpc_method);
  } else {
    line.nullField("grpc_method");
  }
  if (record.grpc_status) {
    line.field("grpc_status", static_cast<int64_t>(*record.grpc_status));
  } else {
    line.nullField("grpc_status");
  }
}

std::string_view OutcomeRenderer::completed(const OutcomeRecord& record, log::Logger& logger) {
  auto& line = logger.line("request_completed");
  writeCommonFields(record, line);
  line.field("status", static_cast<int64_t>(record.status))
      .field("elapsed_ms", millis(record.elapsed))
      .field("bytes_received", record.bytes_received)
      .field("bytes_sent", record.bytes_sent);
  // The upstream broke off after the response started: the client got a cut connection or a reset stream.
  if (record.outcome == Outcome::UpstreamError) line.field("error", logName(record.outcome));
  writeGrpcFields(record, line);
  return logger.emit();
}

std::string_view OutcomeRenderer::cancelled(const OutcomeRecord& record, log::Logger& logger) {
  auto& line = logger.line("request_cancelled", log::Level::Warn);
  writeCommonFields(record, line);
  writeDepartureFields(record, line, record.phase, logName(record.outcome));
  line.field("bytes_received", record.bytes_received)
      .field("bytes_sent", record.bytes_sent)
      .field("status", static_cast<int64_t>(record.status));
  writeGrpcFields(record, line);
  return logger.emit();
}

std::string_view OutcomeRenderer::clientGone(const OutcomeRecord& record, log::Logger& logger) {
  auto& line = logger.line("client_gone", log::Level::Warn);
  writeCommonFields(record, line);
  writeDepartureFields(record, line, record.departure->phase, logName(record.departure->how));
  line.field("bytes_received", record.bytes_received)
      .field("bytes_sent", record.bytes_sent)
      .field("status", static_cast<int64_t>(499))
      .field("upstream_left_running", true)
      .field("ended", logName(record.outcome));
  if (record.upstream_status > 0) {
    line.field("upstream_status", static_cast<int64_t>(record.upstream_status));
  } else {
    line.nullField("upstream_status");
  }
  line.field("ran_on_ms", millis(record.departure->ran_on)).field("bytes_discarded", record.bytes_discarded);
  writeGrpcFields(record, line);
  return logger.emit();
}

}  // namespace tether
