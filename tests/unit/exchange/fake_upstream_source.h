#pragma once

// An UpstreamSource without a pool or sockets: hands out its one FakeUpstreamStream at once, or keeps the requester
// waiting (queued for a slot, or as if a connect were in progress) until the test answers it.

#include "config/config.h"
#include "fake_upstream_stream.h"
#include "upstream_api/upstream_source.h"

namespace tether::testing {

class FakeUpstreamSource : public upstream::UpstreamSource {
 public:
  enum class Answer { AtOnce, Queue, Connect };

  explicit FakeUpstreamSource(const config::Upstream& upstream) : config_(upstream) {}

  const config::Upstream& config() const override { return config_; }
  upstream::AcquireHandle acquire(upstream::UpstreamRequester& requester) override {
    ++acquires;
    waiting_ = nullptr;
    upstream::AcquireHandle handle = newHandle(requester);
    if (answer == Answer::AtOnce) {
      requester.onUpstreamReady(stream);
    } else {
      waiting_ = &requester;
      queued_ = answer == Answer::Queue;
    }
    return handle;
  }
  void retire() override {}

  // A slot came free for the queued requester: a connect now starts for it. False if nobody is queued.
  bool startConnect() {
    if (!waiting_ || !queued_) return false;
    queued_ = false;
    return true;
  }
  // Answers the waiting requester with the stream; false if nobody waits.
  bool serve() {
    upstream::UpstreamRequester* requester = waiting_;
    waiting_ = nullptr;
    if (!requester) return false;
    requester->onUpstreamReady(stream);
    return true;
  }
  // Answers the waiting requester with a failure (connect refused, timed out, queue timeout).
  bool fail(upstream::UpstreamError error) {
    upstream::UpstreamRequester* requester = waiting_;
    waiting_ = nullptr;
    if (!requester) return false;
    requester->onUpstreamUnavailable(error);
    return true;
  }
  bool waiting() const { return waiting_ != nullptr; }

  Answer answer = Answer::AtOnce;
  FakeUpstreamStream stream;
  int acquires = 0;
  int cancels = 0;

 private:
  bool pending(const upstream::UpstreamRequester& requester) const override { return waiting_ == &requester; }
  bool queued(const upstream::UpstreamRequester& requester) const override { return waiting_ == &requester && queued_; }
  void cancel(upstream::UpstreamRequester&) override {
    ++cancels;
    waiting_ = nullptr;
  }

  const config::Upstream& config_;
  upstream::UpstreamRequester* waiting_ = nullptr;
  bool queued_ = false;
};

}  // namespace tether::testing
