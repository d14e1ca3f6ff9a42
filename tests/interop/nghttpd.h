#pragma once

// nghttpd (Debian's nghttp2-server) as an upstream: serves the files of a docroot over h2c (--no-tls) or h2 over TLS,
// with -v, which prints every frame it sends and receives. Tests read the RST_STREAM frames it received (with their
// error codes) and the connection of each request from that log. It cannot hold a request, so the tests cancel in
// the streaming phase of a large file.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/process.h"

namespace tether::testing {

struct TestPki;

class Nghttpd {
 public:
  // h2 over TLS with `pki`'s server certificate; h2c without. Throws std::runtime_error if it does not listen.
  explicit Nghttpd(const std::string& docroot, const TestPki* pki = nullptr);
  ~Nghttpd();
  Nghttpd(const Nghttpd&) = delete;
  Nghttpd& operator=(const Nghttpd&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string output() const { return process_.output(); }

  struct Frame {
    std::string connection;  // nghttpd's "[id=N]"
    int32_t stream_id = 0;
    std::string detail;  // RST_STREAM: the line after the frame, e.g. "(error_code=CANCEL(0x08))"
    bool operator==(const Frame&) const = default;
  };
  // Frames received of `type` ("RST_STREAM", "HEADERS", "GOAWAY"), in order; waits until there are `n`.
  std::vector<Frame> waitForReceived(const std::string& type, size_t n) const;
  std::vector<Frame> received(const std::string& type) const;
  // The streams whose request had `path` ("recv (stream_id=N) :path: <path>"), in order.
  std::vector<int32_t> streamsFor(const std::string& path) const;

 private:
  Process process_;
  uint16_t port_ = 0;
};

// The port a process listens on (TCP, IPv4), read from /proc: nghttpd binds port 0 but logs ":0". 0 if none.
uint16_t listeningPort(pid_t pid);

}  // namespace tether::testing
