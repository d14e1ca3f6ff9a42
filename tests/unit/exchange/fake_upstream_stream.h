#pragma once

// One upstream stream without a socket: records what the exchange sent and how it handed the stream back, and lets
// a test play the upstream through the events interface the exchange registered. A test sets `pending_output` to
// play an upstream that does not take the request body.

#include <event2/buffer.h>

#include <optional>
#include <string>

#include "upstream_api/upstream_stream.h"

namespace tether::testing {

class FakeUpstreamStream : public upstream::UpstreamStream {
 public:
  enum class Settled { No, Released, ReleasedReusable, Aborted };

  void start(upstream::UpstreamStreamEvents& events, std::string_view) override { events_ = &events; }
  void sendRequestHead(const http::MessageHead& head, http::BodyFraming) override {
    head_target = head.target;
    head_headers = head.headers;
  }
  void sendRequestBody(const char*, size_t len) override { body_bytes += len; }
  void sendRequestBody(evbuffer* data) override {
    body_bytes += evbuffer_get_length(data);
    evbuffer_drain(data, evbuffer_get_length(data));
  }
  void sendRequestEnd(const http::HeaderList*) override { request_ended = true; }
  void sendTunnelData(evbuffer* data) override {
    tunnel_bytes += evbuffer_get_length(data);
    evbuffer_drain(data, evbuffer_get_length(data));
  }
  size_t pendingOutput() const override { return pending_output; }
  void pauseReading() override { reading_paused = true; }
  void resumeReading() override { reading_paused = false; }
  void release(bool reusable) override {
    settled = reusable ? Settled::ReleasedReusable : Settled::Released;
    events_ = nullptr;
  }
  std::string_view abort(Outcome outcome) override {
    settled = Settled::Aborted;
    abort_outcome = outcome;
    events_ = nullptr;
    return abort_reply;
  }
  std::string_view peerAddress() const override { return "10.0.0.1:8080"; }

  // Playing the upstream: each is delivered only while the stream is bound, and returns what the exchange answered.
  std::optional<upstream::ResponseBody> respondHead(int status, std::string_view upgrade = {}) {
    if (!events_) return std::nullopt;
    http::MessageHead head;
    head.status = status;
    if (status >= 200) head.content_length = 1000;
    if (!upgrade.empty()) {
      head.upgrade = true;
      head.appendHeader("Connection", "Upgrade");
      head.appendHeader("Upgrade", upgrade);
    }
    return events_->onResponseHead(head);
  }
  // An interim response (1xx) with its own end, as a codec reports it.
  bool respondInterim(int status) {
    if (!events_) return false;
    http::MessageHead head;
    head.status = status;
    events_->onResponseHead(head);
    return events_->onResponseComplete();
  }
  void respondBody(size_t len) {
    if (!events_) return;
    const std::string bytes(len, 'x');
    events_->onResponseBody(bytes.data(), bytes.size());
  }
  void respondComplete() {
    if (events_) events_->onResponseComplete();
  }
  void failWith(upstream::UpstreamError error) {
    if (events_) events_->onUpstreamError(error);
  }
  // The request bytes were written: pending output fell to `now`.
  void drained(size_t now = 0) {
    pending_output = now;
    if (events_) events_->onUpstreamDrained();
  }
  void tunnelFromUpstream(size_t len) {
    if (!events_) return;
    evbuffer* input = evbuffer_new();
    const std::string bytes(len, 't');
    evbuffer_add(input, bytes.data(), bytes.size());
    events_->onTunnelData(input);
    evbuffer_free(input);
  }
  void closeTunnel() {
    if (events_) events_->onTunnelClosed();
  }
  bool bound() const { return events_ != nullptr; }

  std::string head_target;
  http::HeaderList head_headers;
  size_t body_bytes = 0;
  size_t tunnel_bytes = 0;
  size_t pending_output = 0;
  bool reading_paused = false;
  bool request_ended = false;
  Settled settled = Settled::No;
  std::optional<Outcome> abort_outcome;
  std::string_view abort_reply = "rst";  // what abort() says it sent (logged as upstream_reset)

 private:
  upstream::UpstreamStreamEvents* events_ = nullptr;
};

}  // namespace tether::testing
