#pragma once

// Every way an exchange ends, and where it was when it did: the bottom of the layers (it includes nothing of
// tether), so the exchange, the metrics and the downstream sessions share one vocabulary. Each value carries, in
// the one table below, its source, its kind (which log event it gives), its log name, its metric label and the
// status tether logs for it. Counts come from the enums: a value missing from its table does not compile.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether {

enum class Outcome : uint8_t {
  Completed,  // the response (or the tunnel after a 101) ran to its end
  // Answered by tether before any response byte went out.
  NoRoute,           // no route matches the request: 404
  RequestMalformed,  // the request body broke its framing: 400/413/... (the status is given when it happens)
  QueueTimeout,      // no connection slot freed in time: 503
  // The upstream failed (logged `upstream_error` wherever a log line names how the exchange ended).
  ConnectFailed,      // connection refused or unreachable: 502
  ConnectTimeout,     // no connection within connect_timeout: 504
  UpstreamClosed,     // closed or reset before the response head: 502
  MalformedResponse,  // the response head broke HTTP/1.1 rules, or a 101 nobody asked for: 502
  UpstreamError,      // closed, reset or broke framing after the response started: the client side is cut
  // Cancellations: tether stopped the upstream work (logged `request_cancelled`).
  ClientClosed,        // the client sent FIN while the request was in flight
  ClientReset,         // the client connection was reset (RST, ECONNRESET, EPIPE)
  StreamReset,         // an HTTP/2 client's RST_STREAM
  DeadlineExceeded,    // the route's timeout expired: 504
  DrainLimit,          // the client left and the upstream ran past its grace
  Shutdown,            // the drain timeout at exit
  RequestBodyTimeout,  // no request body bytes for limits.request_body_timeout: 408
  SendTimeout,         // the client took no response bytes for limits.send_timeout
  UpstreamTimeout,     // no response head (response_timeout), no body bytes (read_timeout), or the request body
                       // not taken (send_timeout) in time: 504
  Count,               // not an outcome: the number of them
};

enum class Phase : uint8_t {
  ReadingRequest,     // request body still arriving
  Queued,             // the whole request received, waiting for a free upstream connection slot
  Connecting,         // an upstream connection is being opened for it
  AwaitingResponse,   // request sent, no response headers yet
  StreamingResponse,  // response headers sent to the client, body flowing
  Count,              // not a phase: the number of them
};

// Who caused it.
enum class OutcomeSource : uint8_t { Downstream, Upstream, Tether };
// Which request event it gives when the client is still there: request_completed or request_cancelled.
enum class OutcomeKind : uint8_t { Completed, Answered, Cancelled };

struct OutcomeInfo {
  Outcome outcome;
  OutcomeSource source;
  OutcomeKind kind;
  std::string_view log_name;      // `reason` of request_cancelled, `ended` of client_gone, `error` of request_completed
  std::string_view metric_label;  // the `reason` label of the cancellation counters
  int status;                     // what tether logs; 0: the status of the response already under way
};

inline constexpr size_t kOutcomeCount = static_cast<size_t>(Outcome::Count);
inline constexpr size_t kPhaseCount = static_cast<size_t>(Phase::Count);

namespace outcome_table {
using enum Outcome;
using enum OutcomeSource;
inline constexpr OutcomeKind Answered = OutcomeKind::Answered;
inline constexpr OutcomeKind Cancelled = OutcomeKind::Cancelled;
// clang-format off
inline constexpr std::array<OutcomeInfo, kOutcomeCount> kOutcomes = {{
    {Completed,          Upstream,   OutcomeKind::Completed, "completed",            "completed",            0},
    {NoRoute,            Tether,     Answered,  "no_route",             "no_route",             404},
    {RequestMalformed,   Downstream, Answered,  "request_malformed",    "request_malformed",    0},
    {QueueTimeout,       Tether,     Answered,  "upstream_error",       "queue_timeout",        503},
    {ConnectFailed,      Upstream,   Answered,  "upstream_error",       "connect_failed",       502},
    {ConnectTimeout,     Upstream,   Answered,  "upstream_error",       "connect_timeout",      504},
    {UpstreamClosed,     Upstream,   Answered,  "upstream_error",       "upstream_closed",      502},
    {MalformedResponse,  Upstream,   Answered,  "upstream_error",       "malformed_response",   502},
    {UpstreamError,      Upstream,   Answered,  "upstream_error",       "upstream_error",       0},
    {ClientClosed,       Downstream, Cancelled, "client_closed",        "client_closed",        499},
    {ClientReset,        Downstream, Cancelled, "client_reset",         "client_reset",         499},
    {StreamReset,        Downstream, Cancelled, "stream_reset",         "stream_reset",         499},
    {DeadlineExceeded,   Tether,     Cancelled, "deadline_exceeded",    "deadline_exceeded",    504},
    {DrainLimit,         Tether,     Cancelled, "drain_limit",          "drain_limit",          499},
    {Shutdown,           Tether,     Cancelled, "shutdown",             "shutdown",             499},
    {RequestBodyTimeout, Downstream, Cancelled, "request_body_timeout", "request_body_timeout", 408},
    {SendTimeout,        Downstream, Cancelled, "send_timeout",         "send_timeout",         0},
    {UpstreamTimeout,    Upstream,   Cancelled, "upstream_timeout",     "upstream_timeout",     504},
}};
inline constexpr std::array<std::string_view, kPhaseCount> kPhaseNames = {
    "reading_request", "queued", "connecting", "awaiting_response", "streaming_response"};
// clang-format on

constexpr bool inEnumOrder() {
  for (size_t i = 0; i < kOutcomes.size(); ++i) {
    if (static_cast<size_t>(kOutcomes[i].outcome) != i || kOutcomes[i].log_name.empty()) return false;
  }
  return true;
}
static_assert(inEnumOrder(), "kOutcomes lists every Outcome once, in enum order");
}  // namespace outcome_table

constexpr const OutcomeInfo& infoOf(Outcome o) { return outcome_table::kOutcomes[static_cast<size_t>(o)]; }
constexpr std::string_view logName(Outcome o) { return infoOf(o).log_name; }
constexpr std::string_view metricLabel(Outcome o) { return infoOf(o).metric_label; }
constexpr OutcomeSource sourceOf(Outcome o) { return infoOf(o).source; }
constexpr bool isCancellation(Outcome o) { return infoOf(o).kind == OutcomeKind::Cancelled; }
constexpr size_t indexOf(Outcome o) { return static_cast<size_t>(o); }
constexpr Outcome outcomeAt(size_t index) { return static_cast<Outcome>(index); }

constexpr std::string_view toString(Phase p) { return outcome_table::kPhaseNames[static_cast<size_t>(p)]; }
constexpr size_t indexOf(Phase p) { return static_cast<size_t>(p); }
constexpr Phase phaseAt(size_t index) { return static_cast<Phase>(index); }

}  // namespace tether
