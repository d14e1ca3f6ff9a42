#pragma once

// Runs the real `tether` binary for integration tests: writes a YAML config into a temp dir
// (listener and admin on free loopback ports, log sink = a file in that dir), starts the binary
// and waits until it has logged `startup` and both its listener and admin listener accept connections. Also helpers for
// 100 MiB bodies: a streaming response reader that counts (and checks) bytes without buffering them, and an RSS
// sampler.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/http_wire.h"
#include "support/process.h"
#include "support/raw_client.h"

namespace tether::testing {

// YAML settings of one map, as written: {"connect_timeout", "1s"}, {"cancellation", "{mode: ignore}"}.
using Settings = std::vector<std::pair<std::string, std::string>>;

struct JsonValue;

// What goes into the generated config. Listener, admin and log are always added by TetherInstance.
struct TetherOptions {
  struct Upstream {
    std::string name;
    std::vector<std::string> endpoints;  // "127.0.0.1:port"
    Settings settings;                   // connect_timeout, failure_backoff, ...
  };
  struct Route {
    std::string name;
    std::string match;  // YAML flow map, e.g. "{path_prefix: /api/}"
    std::string upstream;
    Settings settings;  // timeout, deadline_header, cancellation, ...
  };

  unsigned workers = 1;
  std::string drain_timeout;  // top-level `drain_timeout`, e.g. "500ms"; empty: the default
  std::vector<Upstream> upstreams;
  std::vector<Route> routes;
  Settings limits;  // max_request_header_bytes, ...
  bool access_log = true;
  // Both set: the listener is a `tls:` listener with this certificate and key (makeSelfSignedCertificate).
  std::string tls_cert;
  std::string tls_key;
  // ASan's quarantine keeps up to 256 MiB of freed memory resident, which hides whether tether's
  // own memory stays bounded; memory tests shrink it (no effect on builds without ASan).
  bool small_sanitizer_quarantine = false;

  // One upstream "backend" with these endpoints and one catch-all route "all" to it.
  static TetherOptions proxyTo(std::vector<std::string> endpoints, Settings upstream_settings = {});

  TetherOptions& addUpstream(std::string name, std::vector<std::string> endpoints, Settings settings = {});
  TetherOptions& addRoute(std::string name, std::string match, std::string upstream, Settings settings = {});
  TetherOptions& limit(std::string key, std::string value);
  TetherOptions& withWorkers(unsigned n);
};

class TetherInstance {
 public:
  // Generous: a sanitizer build on a machine busy with other builds can take seconds to start.
  static constexpr std::chrono::milliseconds kStartTimeout{60000};

  // Uses the binary named by TETHER_BINARY (defined for the integration test executable).
  inline explicit TetherInstance(const TetherOptions& options);
  // Writes the config, starts `binary` and waits until it has logged `startup` and the listener and
  // the admin listener accept connections. Throws
  // std::runtime_error (with the process output) if it does not within kStartTimeout.
  TetherInstance(std::string binary, const TetherOptions& options);
  // Stops the process if still running. Adds a test failure if it exited abnormally (crash,
  // sanitizer report, non-zero exit), with its output, so every test also checks shutdown.
  ~TetherInstance();
  TetherInstance(const TetherInstance&) = delete;
  TetherInstance& operator=(const TetherInstance&) = delete;

  uint16_t port() const { return port_; }
  uint16_t adminPort() const { return admin_port_; }
  pid_t pid() const { return process_->pid(); }
  const std::string& dir() const { return dir_; }
  const std::string& configPath() const { return config_path_; }
  const std::string& configText() const { return config_text_; }
  const std::string& logPath() const { return log_path_; }
  std::string output() const { return process_->output(); }  // stdout + stderr
  bool running() { return process_->running(); }

  std::vector<std::string> logLines() const;
  // The whole log, one line per line, for a failure message.
  std::string dumpLog() const;
  // True once a line of the log file contains `needle`.
  bool waitForLogLine(std::string_view needle, std::chrono::milliseconds timeout) const;
  // The first log line containing all of `needles`, waiting up to `timeout` for it.
  std::optional<std::string> findLogLine(const std::vector<std::string>& needles,
                                         std::chrono::milliseconds timeout) const;

  // Log lines that contain all of `needles` (substring match), in file order.
  std::vector<std::string> logLinesWith(const std::vector<std::string>& needles) const;
  // Waits until at least `n` log lines contain all of `needles`; returns how many there are then.
  size_t waitForLogLineCount(const std::vector<std::string>& needles, size_t n,
                             std::chrono::milliseconds timeout) const;
  // The log lines whose "event" is `event` (and whose "request_id" is `request_id`, unless
  // empty), parsed. A line that is not valid JSON adds a test failure and is skipped.
  std::vector<JsonValue> logEvents(std::string_view event, std::string_view request_id = {}) const;
  // As logEvents(), waiting up to `timeout` until there are at least `n`.
  std::vector<JsonValue> waitForLogEvents(std::string_view event, std::string_view request_id, size_t n,
                                          std::chrono::milliseconds timeout) const;

  // SIGTERM, then waits (SIGKILL after Process::kDefaultTimeout); returns the exit code (128 + signal if killed).
  int stop();

  // Config text for these options and ports (exposed for the command line tests).
  static std::string configYaml(const TetherOptions& options, uint16_t port, uint16_t admin_port,
                                const std::string& log_path);

 private:
  bool waitUntilAccepting(std::chrono::milliseconds timeout);

  std::string dir_;
  std::string config_path_;
  std::string config_text_;
  std::string log_path_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  std::unique_ptr<Process> process_;
  std::optional<int> exit_code_;
};

#ifdef TETHER_BINARY
inline TetherInstance::TetherInstance(const TetherOptions& options) : TetherInstance(TETHER_BINARY, options) {}
#endif

// "GET <target> HTTP/1.1\r\nHost: test\r\n<extra_headers>\r\n" (extra headers end in CRLF).
std::string getRequest(std::string_view target, std::string_view extra_headers = "");
// The first run of exactly 32 hex digits in `text`, if any.
std::optional<std::string> find32Hex(std::string_view text);
bool isHex32(std::string_view text);

// A JSON value from a strict RFC 8259 parser (enough to check log lines field by field).
struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;              // kString: the decoded string; kNumber: the number as written
  bool integer = false;          // kNumber without fraction or exponent that fits in int64_t
  int64_t int_value = 0;         // when `integer`
  std::vector<JsonValue> items;  // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in order

  // The member called `key` of an object, or null if absent (or not an object).
  const JsonValue* find(std::string_view key) const;
  bool isNull() const { return kind == Kind::kNull; }
  bool isString() const { return kind == Kind::kString; }
  bool isInt() const { return kind == Kind::kNumber && integer; }
  bool isBool() const { return kind == Kind::kBool; }
  // Convenience accessors for a member: nullopt if absent or of another type.
  std::optional<std::string> str(std::string_view key) const;
  std::optional<int64_t> integerAt(std::string_view key) const;
  std::optional<bool> boolAt(std::string_view key) const;
};

// Parses exactly one JSON value spanning all of `text` (surrounding whitespace allowed).
// nullopt with `error` (position and cause) if `text` is not valid JSON or has duplicate keys.
std::optional<JsonValue> parseJson(std::string_view text, std::string* error = nullptr);

// Sockets in TIME_WAIT in this network namespace (/proc/net/tcp and tcp6) whose remote port is
// `remote_port`: the side that closed first towards a server listening on that port.
int countTimeWaitTo(uint16_t remote_port);

// Resident set size of a process in KiB (VmRSS), 0 if unreadable.
uint64_t rssKiB(pid_t pid);
// Number of threads of a process (/proc/<pid>/task entries).
int threadCount(pid_t pid);

// The peak VmRSS of a process while a test moves bytes through it. The test calls sample() as the
// bytes move (say every MiB), so the number of samples depends on the bytes moved, not on how fast
// the machine is; a background thread also samples every `interval` to catch peaks in between.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid, std::chrono::milliseconds interval = std::chrono::milliseconds(20));
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  // One sample now (any thread).
  void sample();
  uint64_t maxKiB() const { return max_kib_.load(); }
  // Samples taken by sample() calls (the background thread's are not counted).
  int samples() const { return samples_.load(); }
  void stop();

 private:
  uint64_t take();

  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> max_kib_{0};
  std::atomic<int> samples_{0};
  std::thread thread_;
};

// A response read without keeping its body: bytes are counted and compared with generatedBody().
struct StreamedResponse {
  int status = 0;
  HeaderList headers;
  bool chunked = false;
  bool complete = false;  // the body ended as framed
  std::string problem;    // why not complete: "timeout", "closed", "bad head", "bad body framing"
  uint64_t body_bytes = 0;
  uint64_t first_mismatch = UINT64_MAX;  // offset of the first byte != generatedByte(offset)

  std::optional<std::string> header(std::string_view name) const { return findHeader(headers, name); }
  bool bodyMatchesGenerated() const { return first_mismatch == UINT64_MAX; }
};

// Reads the next response from `client` (which must have nothing buffered past a previous
// response). `pause_after` lets a test stall: after every `pause_every` body bytes,
// `on_progress(bytes)` is called; it may sleep. Returns with complete=false on timeout/close.
StreamedResponse readStreamedResponse(RawClient& client, std::chrono::milliseconds timeout, uint64_t pause_every = 0,
                                      const std::function<void(uint64_t)>& on_progress = {});

// Sends `total` bytes as a chunked body (chunk sizes vary), repeating generatedBody(1 MiB); false
// on error or timeout. The head must have been sent already. `on_progress(bytes_sent)`, if given, is
// called after every further `progress_every` bytes sent.
bool sendChunkedBody(RawClient& client, uint64_t total, std::chrono::milliseconds timeout, uint64_t progress_every = 0,
                     const std::function<void(uint64_t)>& on_progress = {});

}  // namespace tether::testing
