#pragma once

// An app from examples/ (the Go and Node APIs) run behind tether by the interop tests. The apps write one line per
// event, each starting with a UTC timestamp with milliseconds (the format of tether's `ts`):
//
//   <ts> listening <port>
//   <ts> request started id=<X-Request-Id> path=<path> proto=<proto>
//   <ts> request cancelled id=<id> path=<path> elapsed_ms=<ms> cause=<...>
//   <ts> request completed id=<id> path=<path> elapsed_ms=<ms>
//   <ts> downstream cancelled id=<id> elapsed_ms=<ms> err=<...>
//
// The tests wait for those lines as events, and line the app's timestamp up with tether's to measure how long the
// app's cancellation signal took to fire after tether logged request_cancelled.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"

namespace tether::testing {

struct JsonValue;

class ExampleApp {
 public:
  // Starts `argv` and waits for its `listening <port>` line; a test failure (port() 0) if it does not come.
  explicit ExampleApp(std::vector<std::string> argv);
  ~ExampleApp();
  ExampleApp(const ExampleApp&) = delete;
  ExampleApp& operator=(const ExampleApp&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string output() const { return process_.output(); }

  // The first line "<ts> <event> id=<id> ..." (event: "request started", "request cancelled", "request completed",
  // "downstream cancelled"), waiting up to 30 s for it; nullopt if it never came.
  std::optional<std::string> waitFor(std::string_view event, std::string_view id) const;
  // How many such lines there are now.
  size_t count(std::string_view event, std::string_view id) const;

 private:
  Process process_;
  uint16_t port_ = 0;
};

// "2026-12-07T04:50:36.342Z" (tether's `ts`, the apps' first field) as milliseconds since the epoch.
std::optional<int64_t> utcMillis(std::string_view timestamp);
// The value of `key=` in an app's line ("path", "proto", "elapsed_ms"), up to the next space.
std::optional<std::string> appField(const std::string& line, std::string_view key);
// Milliseconds from tether's log line `event` (its `ts`) to the app's line (its first field); nullopt if either
// timestamp is missing.
std::optional<int64_t> millisBetween(const JsonValue& event, const std::string& app_line);

// Why a runtime an example needs cannot run here ("" when it can): each path must be executable or readable.
std::string missingFiles(const std::vector<std::string>& paths);

}  // namespace tether::testing
