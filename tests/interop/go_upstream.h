#pragma once

// The Go upstream (tests/interop/go_h2_upstream): Go's net/http with golang.org/x/net/http2, a real HTTP/2 server.
// One process per test; it listens on port 0 and reports the port, and every request, cancellation, connection
// and HTTP/2 frame from tether, as a line on stdout (the format is in main.go).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace tether::testing {

struct TestPki;

class GoUpstream {
 public:
  // What the server speaks: HTTP/1.1 and h2c on one cleartext port, or h2 over TLS (ALPN h2).
  enum class Mode { kCleartext, kTls };

  // kTls needs `pki` (the server certificate and key). Throws std::runtime_error if it does not report its port.
  explicit GoUpstream(Mode mode, const TestPki* pki = nullptr);
  ~GoUpstream();
  GoUpstream(const GoUpstream&) = delete;
  GoUpstream& operator=(const GoUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string output() const { return process_.output(); }
  const Process* process() const { return &process_; }

  // "<event> <path> <remote> <proto> <x-request-id> <unix ms>" lines (event: request, cancelled, completed) for
  // `path`, waiting for `n`.
  std::vector<std::string> waitFor(const std::string& event, const std::string& path, size_t n = 1) const;
  // Lines starting with `prefix` ("cancelled ", "frame RST_STREAM ", "accepted "), now.
  std::vector<std::string> lines(const std::string& prefix) const;
  // The connection (tether's address) that carried the first `request` of `path`, once it arrived.
  std::optional<std::string> connectionOf(const std::string& path) const;

 private:
  Process process_;
  uint16_t port_ = 0;
};

}  // namespace tether::testing
