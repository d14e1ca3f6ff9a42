#pragma once

// A token bucket: holds at most `burst` tokens, refilled continuously at `rate` tokens per second. Used where a
// peer may do something now and then but not in a flood (HTTP/2 stream resets): a burst is forgiven at once, a
// sustained rate above `rate` runs the bucket dry.

#include <algorithm>
#include <chrono>

namespace tether::util {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double burst, double rate_per_second, Clock::time_point now)
      : burst_(burst), rate_(rate_per_second), tokens_(burst), last_(now) {}

  // Spends one token if there is one; false when the bucket is empty (the caller refuses).
  bool take(Clock::time_point now) {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  double tokens(Clock::time_point now) {
    refill(now);
    return tokens_;
  }

 private:
  void refill(Clock::time_point now) {
    if (now <= last_) return;
    const std::chrono::duration<double> elapsed = now - last_;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    last_ = now;
  }

  double burst_;
  double rate_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace tether::util
