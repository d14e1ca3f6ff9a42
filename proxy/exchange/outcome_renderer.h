#pragma once

// The one renderer of the request events (docs/logging.md): an OutcomeRecord becomes request_completed,
// request_cancelled and/or client_gone lines. The bytes written to the log are the bytes kept for
// GET /cancellations, so the two cannot disagree.

#include <string>

#include "log/logger.h"
#include "outcome/outcome_record.h"

namespace tether {

class OutcomeRenderer {
 public:
  // Writes the record's lines through `logger` (each filtered by its level; request_completed only with
  // `access_log`). Returns the line kept for /cancellations, without its newline: request_cancelled if the
  // exchange was cancelled, else client_gone if the client left; empty otherwise.
  static std::string render(const OutcomeRecord& record, log::Logger& logger, bool access_log);

 private:
  static void writeCommonFields(const OutcomeRecord& record, log::JsonLine& line);
  static void writeUpstreamProtocol(const OutcomeRecord& record, log::JsonLine& line);
  // trace_id and parent_span_id, last of the common fields (null without a valid traceparent).
  static void writeTraceFields(const OutcomeRecord& record, log::JsonLine& line);
  static void writeUpstreamReset(const OutcomeRecord& record, log::JsonLine& line);
  static void writeDepartureFields(const OutcomeRecord& record, log::JsonLine& line, Phase phase,
                                   std::string_view reason);
  // grpc_method and grpc_status, last in every request event (null unless gRPC).
  static void writeGrpcFields(const OutcomeRecord& record, log::JsonLine& line);
  static std::string_view completed(const OutcomeRecord& record, log::Logger& logger);
  static std::string_view cancelled(const OutcomeRecord& record, log::Logger& logger);
  static std::string_view clientGone(const OutcomeRecord& record, log::Logger& logger);
};

}  // namespace tether
