#pragma once

// One request/response pair. The Exchange is the only place that decides: it routes the request, asks the route's
// upstream source for an upstream stream, moves bytes between the client side (a DownstreamStream) and the upstream
// side (an UpstreamStream: it never sees which protocol or connection is behind it), and owns the cancellation state.
// Its progress is one State; every way it ends goes through end(outcome), exactly once: the first outcome wins, the
// upstream is released or aborted, the timers stop, and one OutcomeRecord goes to the one renderer (log and
// /cancellations) and to the metrics.

#include <event2/event_struct.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "exchange/downstream_stream.h"
#include "exchange/exchange_context.h"
#include "http/body_framing.h"
#include "http/trace_context.h"
#include "outcome/outcome_record.h"
#include "upstream_api/acquire_handle.h"
#include "upstream_api/upstream_requester.h"
#include "upstream_api/upstream_source.h"
#include "upstream_api/upstream_stream.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether {

// One is allocated per request: at most 1032 bytes (glibc's largest tcache size on 64-bit), so its allocation and
// release take the thread cache's fast path instead of the bins (see the static_assert in exchange.cc).
class Exchange : public util::Deletable, private upstream::UpstreamRequester, private upstream::UpstreamStreamEvents {
 public:
  Exchange(ExchangeContext& context, DownstreamStream& downstream);
  ~Exchange() override;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Client-side events, translated by the session from its codec.
  void onRequestHead(http::MessageHead& head);
  void onRequestBody(const char* data, size_t len);
  void onRequestComplete(const http::HeaderList* trailers);
  void onDownstreamDrained();
  void onDownstreamTunnelData(evbuffer* data);
  // The request body broke HTTP/1.1 framing mid-way: stop the upstream, answer `status` if nothing was sent yet.
  void onRequestMalformed(int status, std::string_view message);

  // The client sent FIN: true if the route's policy (`half_close: wait`) keeps serving the response.
  bool keepServingAfterFin() const;
  // The client is gone (FIN or RST). Cancels the upstream, or, when the route's policy lets the upstream run on
  // (`ignore`, a method outside `methods`, a grace period), detaches from the client and returns true: the caller
  // then hands the exchange to DetachedExchanges.
  bool onDownstreamClosed(Outcome how);
  // Cancels the upstream work (a cancellation Outcome: ClientClosed, DeadlineExceeded, ...): answers the client
  // if a timeout calls for it, then end(). Idempotent: the first outcome wins.
  void cancel(Outcome reason);
  // How the client side broke off, in its protocol's terms (HTTP/2 error code name, e.g. "CANCEL"): logged as
  // `h2_error` with the cancellation. Static storage (nghttp2_http2_strerror): only the view is kept.
  void setDownstreamError(const char* h2_error) { h2_error_ = h2_error; }

  bool finished() const { return state_ == State::Ended; }
  bool requestComplete() const { return request_complete_; }
  Phase phase() const;
  std::string_view requestId() const { return {request_id_, request_id_len_}; }
  // The X-Request-Id a proxied response gets: empty when the route's `forwarding.request_id` is off (the upstream's
  // own field, if any, then passes as it came).
  std::string_view responseRequestId() const {
    return route_ && !route_->forwarding.request_id ? std::string_view() : requestId();
  }

 private:
  // upstream::UpstreamRequester
  void onUpstreamReady(upstream::UpstreamStream& stream) override;
  void onUpstreamUnavailable(upstream::UpstreamError error) override;
  // upstream::UpstreamStreamEvents
  upstream::ResponseBody onResponseHead(http::MessageHead& head) override;
  void onResponseBody(const char* data, size_t len) override;
  void onResponseTrailers(const http::HeaderList& trailers) override;
  bool onResponseComplete() override;
  void onUpstreamDrained() override;
  void onUpstreamError(upstream::UpstreamError error) override;
  void onTunnelData(evbuffer* input) override;
  void onTunnelClosed() override;

  void assignRequestId(const http::MessageHead& head);
  // The request head (and what arrived of the request while no stream existed) to the stream just bound.
  void sendRequest(http::MessageHead& head);
  // A response from tether itself (the outcome's status, or `status` when given), then end().
  void respondLocally(Outcome outcome, std::string_view message, int status = 0);
  // Hands the stream back (release(reusable)) or stops it (abort(outcome)); a no-op without one.
  void releaseUpstream(bool reusable);
  void abandonUpstream(Outcome outcome);
  // The one teardown: settles the upstream, stops the timers, reports one record. Only the first call acts.
  void end(Outcome outcome);
  void settleUpstream(Outcome outcome, bool tunnel);
  OutcomeRecord record(Outcome outcome, Phase phase) const;
  bool policyLetsUpstreamRunOn() const;
  // The route's policy cancels this request's method when the client leaves (mode propagate, method listed).
  bool propagates() const;
  void detach(Outcome how);
  void report(const OutcomeRecord& record);
  static void onDeadline(evutil_socket_t, short, void* arg);
  static void onGraceExpired(evutil_socket_t, short, void* arg);

  // Progress timeouts: one timer, watching whatever side the exchange waits on now. Progress notes only store a
  // time; the timer re-arms itself for what is left when it fires early.
  enum class Watch : uint8_t { None, RequestBody, UpstreamSend, ResponseHead, UpstreamRead, ClientSend, Tunnel };
  Watch watchNow() const;
  std::chrono::milliseconds timeoutOf(Watch watch) const;
  // Re-evaluates the watch after a change of phase or of back-pressure (a change restarts the clock).
  void rewatch();
  void noteProgress() { last_progress_ = std::chrono::steady_clock::now(); }
  void armWatchdog(std::chrono::steady_clock::time_point now, std::chrono::milliseconds after);
  void disarmWatchdog();
  bool watchdogPending() const { return watchdog_due_ != std::chrono::steady_clock::time_point{}; }
  static void onWatchdog(evutil_socket_t, short, void* arg);
  void checkProgress();
  // An interim (1xx) response from the upstream: forwarded at most kMaxInterimResponses times.
  void forwardInterim(const http::MessageHead& head);
  // A timeout's answer to the client (504, 408, or a cut connection); nothing for the other cancellations.
  void answerTimeout(Outcome reason);
  void pauseUpstreamIfClientBehind();
  // An answer of tether's own before any response byte: a trailers-only gRPC error for a gRPC client over HTTP/2,
  // the JSON error response otherwise.
  void sendLocalAnswer(Outcome outcome, int status, std::string_view message);
  // The route timeout and the client's grpc-timeout, whichever ends first: arms deadline_. Removes the client's
  // grpc-timeout (sendRequest writes the remaining budget).
  void armDeadline(http::MessageHead& head);
  // gRPC needs trailers: only an HTTP/2 client can be given a gRPC answer (grpc-status) by tether.
  bool grpcToClient() const { return grpc_ && protocol_ != "http/1.1"; }
  void noteGrpcStatus(const http::HeaderList& fields);

  ExchangeContext& context_;
  std::shared_ptr<ConfigSnapshot> snapshot_;  // the config this exchange started on; keeps route_ and source_ alive
  DownstreamStream* downstream_;              // null once the client left and the exchange runs on detached
  const config::Route* route_ = nullptr;
  upstream::UpstreamSource* source_ = nullptr;         // the route's upstream; owned by snapshot_
  const config::Upstream* upstream_config_ = nullptr;  // source_->config()
  upstream::AcquireHandle acquire_;  // while queued or connecting; declared after snapshot_, which owns the source
  upstream::UpstreamStream* upstream_ = nullptr;  // once bound, until released or aborted
  // The request as it arrived before a stream existed (queued or connecting): sent when one is bound.
  std::optional<http::MessageHead> pending_head_;
  util::EvBufferPtr pending_body_;
  std::optional<http::HeaderList> pending_end_;     // the request completed (with these forwardable trailers)
  http::MessageHead* head_for_upstream_ = nullptr;  // the request head, only while onRequestHead runs
  util::EventPtr deadline_;
  util::EventPtr grace_;
  event watchdog_;  // embedded: no allocation per exchange
  std::chrono::steady_clock::time_point last_progress_;
  // When the pending watchdog timer is due; the epoch when it is not pending (never armed, fired, or deleted).
  std::chrono::steady_clock::time_point watchdog_due_;
  size_t pending_at_check_ = 0;  // output still queued towards the stalled side when the watchdog last looked

  std::string method_;
  std::string path_;
  char request_id_[64];
  http::HeaderList response_trailers_;
  std::string endpoint_;  // the upstream connection's address as logged; empty until one is bound
  std::string client_;
  std::string_view protocol_ = "http/1.1";  // DownstreamStream::protocol(), a literal; kept for when the stream is gone
  const char* h2_error_ = "";               // static storage, see setDownstreamError()
  // What abandonUpstream() sent to stop the upstream's work (UpstreamStream::abort, static storage); empty: nothing.
  std::string_view upstream_reset_;
  std::string upgrade_requested_;  // the request's Upgrade value: a 101 may only switch to one of these

  std::chrono::steady_clock::time_point started_;
  std::optional<std::chrono::steady_clock::time_point> deadline_at_;  // the effective deadline, if there is one
  std::optional<std::chrono::steady_clock::time_point> sent_upstream_;
  uint64_t bytes_received_ = 0;     // request body bytes from the client
  uint64_t bytes_sent_ = 0;         // response body bytes to the client
  uint64_t bytes_discarded_ = 0;    // response body bytes read after the client left
  uint64_t drain_bytes_limit_ = 0;  // grace_bytes while draining under `propagate`; 0 = no byte limit
  int status_ = 0;
  int upstream_status_ = 0;

  // The response side's progress; the request side (request_complete_) runs independently of it.
  enum class State : uint8_t {
    Routing,           // the request head is being handled
    Connecting,        // routed: waiting for a stream from the upstream source (queued or connecting)
    AwaitingResponse,  // bound to an upstream connection, no final response head yet
    Responding,        // the final response head arrived (forwarded, or discarded when detached)
    Tunnel,            // after a 101: raw bytes both ways until either side closes
    Ended,             // end() ran: nothing else happens
  };
  bool responseStarted() const { return state_ == State::Responding || state_ == State::Tunnel; }

  // How the client left while the upstream was allowed to run on; the exchange is then detached.
  struct Departure {
    Outcome how;
    Phase phase;
    std::chrono::steady_clock::time_point at;
  };
  std::optional<Departure> departure_;

  // Small fields together at the end, where they pack without padding: the object must stay within 1032 bytes
  // (exchange.cc).
  State state_ = State::Routing;
  Watch watch_ = Watch::None;
  http::BodyFraming request_framing_ = http::BodyFraming::None;
  // The ids of the request's valid W3C traceparent (forwarded unchanged like any field), for the request events; 24
  // bytes binary, not 48 of text.
  std::optional<http::TraceContext> trace_;
  // gRPC (Content-Type application/grpc...; its method is path_ without the query): the grpc-status the upstream
  // sent or tether answered (-1: none), and whether the response is Trailers-Only (grpc-status in the head, no
  // body).
  int16_t grpc_status_ = -1;
  bool grpc_ = false;
  bool trailers_only_ = false;

  uint8_t interim_forwarded_ = 0;
  uint8_t request_id_len_ = 0;  // at most 64 (isValidRequestId); small, so the object stays under 1032 bytes
  bool request_upgrade_ = false;
  bool request_complete_ = false;
  // Back-pressure, orthogonal to the state: the client's request body, and the upstream's response.
  bool request_paused_ = false;
  bool upstream_paused_ = false;
};

}  // namespace tether
