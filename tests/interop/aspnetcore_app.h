#pragma once

// examples/aspnetcore (the seeds' minimal API) as a child process of a test: Kestrel on a free loopback port, and
// its log read as events. Every line the tests read is one line that starts with a UTC timestamp in ms and names
// its request with `request_id=<X-Request-Id>`.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"

namespace tether::testing {

class AspNetCoreApp {
 public:
  // Why the app cannot run here (no dotnet, not built), or empty when it can.
  static std::string missing();

  // Starts the app (`extra_args` after the port) and returns once it printed `listening` and served one request of
  // each endpoint directly: the first request of a fresh .NET process compiles the pipeline and the endpoint (JIT,
  // hundreds of ms on a busy machine), which would otherwise land inside a test's timing.
  explicit AspNetCoreApp(std::vector<std::string> extra_args = {});

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string output() const { return process_.output(); }
  const Process& process() const { return process_; }

  // The app's lines that contain `message` and whose request_id is exactly `request_id`.
  std::vector<std::string> lines(std::string_view message, std::string_view request_id) const;
  // The first such line, waiting for it up to `timeout`.
  std::optional<std::string> waitForLine(std::string_view message, std::string_view request_id,
                                         std::chrono::milliseconds timeout = Process::kDefaultTimeout) const;

 private:
  void warmUp();

  Process process_;
  uint16_t port_ = 0;
};

// Milliseconds since the epoch of the ISO 8601 UTC timestamp with milliseconds ("2026-12-07T04:50:30.103Z") that
// starts `text`: the app's lines and tether's `ts` field share the format.
std::optional<int64_t> isoMillis(std::string_view text);

}  // namespace tether::testing
