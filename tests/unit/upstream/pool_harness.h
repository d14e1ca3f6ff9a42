#pragma once

// An UpstreamPool on its own event loop for unit tests. Its one endpoint is a loopback listener that nobody needs to
// accept from (the kernel completes connects from its backlog); a test accepts only when it plays the upstream.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "upstream/upstream_pool.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether::upstream {

class PoolHarness {
 public:
  struct Options {
    size_t max_connections_per_endpoint = 1;
    config::Duration connect_timeout{30000};
    config::Duration queue_timeout{30000};
  };
  explicit PoolHarness(const Options& options);
  PoolHarness(const PoolHarness&) = delete;
  PoolHarness& operator=(const PoolHarness&) = delete;
  ~PoolHarness();

  UpstreamPool& pool() { return *pool_; }
  // Runs the loop until `done` holds; false if it does not within `bound` (a failure bound, not a wait for time).
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(10));
  // Accepts the server side of the oldest connection the pool opened; -1 if none within `bound`. Owned here.
  int acceptServerSide(std::chrono::milliseconds bound = std::chrono::seconds(10));

 private:
  util::EventBasePtr base_;
  util::DeferredDeleter deleter_;
  util::FileDescriptor listener_;
  std::vector<std::unique_ptr<util::FileDescriptor>> accepted_;
  config::Upstream config_;
  std::unique_ptr<UpstreamPool> pool_;  // last: gone before the loop and the config it uses
};

// Records what the pool told it into a log shared by a test's requesters, so that the order of answers shows.
class RecordingRequester : public UpstreamRequester {
 public:
  RecordingRequester(std::string name, std::vector<std::string>& log) : name_(std::move(name)), log_(log) {}

  void onUpstreamReady(UpstreamStream& stream) override;
  void onUpstreamUnavailable(UpstreamError error) override;

  int answers() const { return answers_; }
  UpstreamConnection* connection() const { return connection_; }
  std::optional<UpstreamError> error() const { return error_; }
  // From acquire() (set by the test) to the pool's answer.
  std::chrono::steady_clock::time_point asked{};
  std::chrono::steady_clock::time_point answered{};

 private:
  std::string name_;
  std::vector<std::string>& log_;
  int answers_ = 0;
  UpstreamConnection* connection_ = nullptr;
  std::optional<UpstreamError> error_;
};

}  // namespace tether::upstream
