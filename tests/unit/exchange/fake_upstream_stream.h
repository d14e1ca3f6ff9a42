#pragma once

// One upstream stream without a socket: records what the exchange sent and how it handed the stream back, and lets
// a test play the upstream through the events interface the exchange registered.

#include <optional>
#include <string>

#include "upstream_api/upstream_stream.h"

namespace tether::testing {

class FakeUpstreamStream : public upstream::UpstreamStream {
 public:
  enum class Settled { No, Released, ReleasedReusable, Aborted };

  void start(upstream::UpstreamStreamEvents& events, std::string_view) override { events_ = &events; }
  void sendRequestHead(const http::MessageHead& head, http::BodyFraming) override { head_target = head.target; }
  void sendRequestBody(const char*, size_t len) override { body_bytes += len; }
  void sendRequestBody(evbuffer* data) override {
    body_bytes += evbuffer_get_length(data);
    evbuffer_drain(data, evbuffer_get_length(data));
  }
  void sendRequestEnd(const http::HeaderList*) override { request_ended = true; }
  void sendTunnelData(evbuffer* data) override { evbuffer_drain(data, evbuffer_get_length(data)); }
  size_t pendingOutput() const override { return 0; }
  void pauseReading() override {}
  void resumeReading() override {}
  void release(bool reusable) override {
    settled = reusable ? Settled::ReleasedReusable : Settled::Released;
    events_ = nullptr;
  }
  void abort(Outcome outcome) override {
    settled = Settled::Aborted;
    abort_outcome = outcome;
    events_ = nullptr;
  }
  std::string_view peerAddress() const override { return "10.0.0.1:8080"; }

  // Playing the upstream: each is delivered only while the stream is bound.
  void respondHead(int status) {
    if (!events_) return;
    http::MessageHead head;
    head.status = status;
    head.content_length = 1000;
    events_->onResponseHead(head);
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
  bool bound() const { return events_ != nullptr; }

  std::string head_target;
  size_t body_bytes = 0;
  bool request_ended = false;
  Settled settled = Settled::No;
  std::optional<Outcome> abort_outcome;

 private:
  upstream::UpstreamStreamEvents* events_ = nullptr;
};

}  // namespace tether::testing
