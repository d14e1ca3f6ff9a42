#pragma once

// In-process HTTP/2 origin server (h2c, prior knowledge) for integration tests, the HTTP/2 sibling of TestUpstream.
// It runs nghttp2's server session on its own thread and records what the client did at the frame level: requests,
// RST_STREAM codes, GOAWAY, PING, SETTINGS, so cancellation tests can check "RST_STREAM(CANCEL) on that stream only,
// connection kept".

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/http_wire.h"

namespace tether::testing {

// A request as received on one stream. Pseudo-headers are split out; `headers` holds the regular fields in order.
struct H2Request {
  static constexpr size_t kMaxKeptBody = 1 << 20;

  int connection = 0;  // 1-based accept order
  int32_t stream_id = 0;
  std::string method;
  std::string scheme;
  std::string authority;
  std::string path;
  HeaderList headers;
  std::string body;         // first kMaxKeptBody bytes
  uint64_t body_bytes = 0;  // full length received
  HeaderList trailers;

  std::optional<std::string> header(std::string_view name) const { return findHeader(headers, name); }
};

// Everything that happened on one stream.
struct H2StreamRecord {
  H2Request request;
  bool request_complete = false;   // END_STREAM received (the handler ran)
  bool response_complete = false;  // END_STREAM sent
  bool closed = false;      // stays false for a stream still open when its connection ended (no close callback then)
  uint32_t close_code = 0;  // nghttp2's stream-close error code
  std::optional<uint32_t> reset_received;  // RST_STREAM from the client, its error code
  std::optional<uint32_t> reset_sent;      // RST_STREAM this server sent (Reply::reset_code)

  // Request and response both complete, closed without an error or a reset either way.
  bool endedNormally() const {
    return closed && close_code == 0 && request_complete && response_complete && !reset_received && !reset_sent;
  }
};

struct H2ResetRecord {
  int connection = 0;
  int32_t stream_id = 0;
  uint32_t error_code = 0;
  friend bool operator==(const H2ResetRecord&, const H2ResetRecord&) = default;
};

struct H2GoawayRecord {
  int connection = 0;
  int32_t last_stream_id = 0;
  uint32_t error_code = 0;
};

struct H2ConnectionRecord {
  int id = 0;
  bool open = true;
  std::vector<std::pair<int32_t, uint32_t>> settings;  // the client's SETTINGS entries (id, value), in order
  int pings = 0;                                       // PINGs received (not ACKs)
  int resets_received = 0;
  std::optional<H2GoawayRecord> goaway_received;
  std::optional<uint32_t> goaway_sent;  // error code of the GOAWAY this server sent
};

class H2TestUpstream {
 public:
  struct Options {
    uint32_t max_concurrent_streams = 100;
    int32_t initial_window_size = 65535;  // SETTINGS_INITIAL_WINDOW_SIZE (the client's send window per stream)
    // The Rapid Reset defence: more than `max_client_resets` RST_STREAM frames received on one connection within
    // `reset_window` (0: the connection's lifetime) make the server send GOAWAY(ENHANCE_YOUR_CALM) and close.
    // 0 disables it. Real limits this emulates:
    //  - hyper / h2 (Rust): max_pending_accept_reset_streams, default 20: the 21st reset of a stream the
    //    application has not yet accepted is a connection error, GOAWAY(ENHANCE_YOUR_CALM).
    //  - nghttp2 >= 1.57 (and Debian 12's 1.52.0-1+deb12u1 backport): a token bucket of 1000 resets refilled
    //    at 33/s, then GOAWAY(INTERNAL_ERROR). That built-in limit is raised out of the way here so only this
    //    option (with the clearer code) applies.
    int max_client_resets = 0;
    std::chrono::milliseconds reset_window{0};
  };

  struct Reply {
    enum class Hold {
      kNone,
      kBeforeHeaders,  // send nothing until release() or the stream's reset
      kAfterHeaders,   // send the head and `body_before_hold` body bytes, then wait for release()
    };
    int status = 200;
    HeaderList headers;
    std::string body;
    uint64_t stream_bytes = 0;  // > 0: the body is this many generatedBody() bytes instead of `body`
    HeaderList trailers;        // sent in a HEADERS frame after the body
    Hold hold = Hold::kNone;
    uint64_t body_before_hold = 0;
    // Slow bodies: DATA frames of at most `chunk` bytes, `interval` apart; flow control is always respected.
    size_t chunk = 16 * 1024;
    std::chrono::milliseconds interval{0};
    std::optional<uint32_t> reset_code;  // reply with RST_STREAM(code) instead of a response
    // Send GOAWAY(goaway_code, goaway_last_stream_id) first; streams above it are closed unprocessed (nghttp2
    // closes them as REFUSED_STREAM) and this stream is answered only if it is at or below it.
    std::optional<int32_t> goaway_last_stream_id;
    uint32_t goaway_code = 0;
  };
  // Runs on the server thread, once a request is complete (END_STREAM received). It must not block: every
  // connection is served by that one thread; use Reply::hold for replies that should wait.
  using Handler = std::function<Reply(const H2Request&)>;

  // Default handler: 200 with body "ok".
  explicit H2TestUpstream(Options options);
  H2TestUpstream();
  ~H2TestUpstream();  // stops the thread, closes all connections
  H2TestUpstream(const H2TestUpstream&) = delete;
  H2TestUpstream& operator=(const H2TestUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"
  void setHandler(Handler handler);

  // Lets held streams go on (Reply::hold). A release of a stream that is not held yet is remembered, so a test
  // may release a stream before its request has completed; one that has closed is ignored.
  void release(int connection, int32_t stream_id);
  void releaseAll();  // every stream held now; streams held later stay held

  int acceptedConnections() const;
  int openConnections() const;
  std::vector<H2ConnectionRecord> connections() const;
  std::optional<H2ConnectionRecord> connection(int id) const;
  // Every stream that received a request head, in arrival order.
  std::vector<H2StreamRecord> streams() const;
  std::optional<H2StreamRecord> stream(int connection, int32_t stream_id) const;
  // Complete requests (END_STREAM received), in completion order.
  std::vector<H2Request> requests() const;
  // RST_STREAM frames received from clients, in order.
  std::vector<H2ResetRecord> resetsReceived() const;
  std::vector<H2GoawayRecord> goawaysReceived() const;
  int pingsReceived() const;
  int streamsEndedNormally() const;

  // Each waits until the count reaches n (true) or `timeout` passes (false).
  bool waitForConnections(int n, std::chrono::milliseconds timeout) const;        // accepted
  bool waitForClosedConnections(int n, std::chrono::milliseconds timeout) const;  // accepted and since closed
  bool waitForStreams(int n, std::chrono::milliseconds timeout) const;            // request heads received
  bool waitForRequests(int n, std::chrono::milliseconds timeout) const;           // complete requests
  bool waitForResets(int n, std::chrono::milliseconds timeout) const;             // RST_STREAM received
  bool waitForClosedStreams(int n, std::chrono::milliseconds timeout) const;
  bool waitForEndedNormally(int n, std::chrono::milliseconds timeout) const;
  bool waitForGoaways(int n, std::chrono::milliseconds timeout) const;  // GOAWAY received
  bool waitForPings(int n, std::chrono::milliseconds timeout) const;
  bool waitForStreamClosed(int connection, int32_t stream_id, std::chrono::milliseconds timeout) const;

 private:
  class Connection;
  friend class Connection;
  using StreamKey = std::pair<int, int32_t>;

  void run();
  void pollOnce();
  void acceptAll();
  uint64_t releaseEpoch() const;
  // Whether a stream held at `hold_epoch` (releaseEpoch() then) has been released since.
  bool released(int connection, int32_t stream_id, uint64_t hold_epoch) const;
  Reply handle(const H2Request& request);
  bool waitCount(const std::function<int()>& count, int n, std::chrono::milliseconds timeout) const;

  // Recording, called on the server thread.
  void recordStreamOpened(const H2Request& request);
  void recordRequest(const H2Request& request);
  void recordBody(int connection, int32_t stream_id, std::string_view data);
  void recordStreamClosed(int connection, int32_t stream_id, uint32_t code);
  void recordResponseComplete(int connection, int32_t stream_id);
  void recordResetSent(int connection, int32_t stream_id, uint32_t code);
  void recordResetReceived(int connection, int32_t stream_id, uint32_t code);
  void recordGoawayReceived(int connection, int32_t last_stream_id, uint32_t code);
  void recordGoawaySent(int connection, uint32_t code);
  void recordPing(int connection);
  void recordSettings(int connection, std::vector<std::pair<int32_t, uint32_t>> settings);
  void recordConnectionClosed(int connection);
  H2StreamRecord* findStream(int connection, int32_t stream_id);  // with mu_ held

  const Options options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: a release or the destructor wants the server thread's attention
  uint16_t port_ = 0;
  bool stopping_ = false;                          // guarded by mu_
  std::vector<std::unique_ptr<Connection>> live_;  // server thread only
  std::thread thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Handler handler_;
  std::set<StreamKey> released_;  // every release() so far
  uint64_t release_epoch_ = 0;    // bumped by releaseAll(): streams held before it are released
  std::map<int, H2ConnectionRecord> connections_;
  std::map<StreamKey, H2StreamRecord> streams_;
  std::vector<StreamKey> stream_order_;
  std::vector<H2Request> requests_;
  std::vector<H2ResetRecord> resets_;
  std::vector<H2GoawayRecord> goaways_;
  int accepted_ = 0;
  int closed_connections_ = 0;
  int closed_streams_ = 0;
  int ended_normally_ = 0;
  int pings_ = 0;
};

}  // namespace tether::testing
