#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/http_wire.h"

namespace tether::testing {

// A request as the upstream received it (body decoded from Content-Length or chunked framing).
struct RecordedRequest {
  static constexpr size_t kMaxKeptBody = 1 << 20;

  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  HeaderList headers;
  std::string body;         // first kMaxKeptBody bytes of the body
  uint64_t body_bytes = 0;  // full body length
  HeaderList trailers;      // of a chunked body
  int connection = 0;       // 1-based accept order of the connection it arrived on

  std::optional<std::string> header(std::string_view name) const { return findHeader(headers, name); }
};

// Deterministic bytes used for Reply::stream_bytes bodies: generatedBody(n) is the first n.
char generatedByte(uint64_t index);
std::string generatedBody(uint64_t n);

// In-process HTTP/1.1 origin server on 127.0.0.1:<ephemeral>, one thread per connection, for
// integration tests over real loopback sockets. It keeps counters and the requests it saw, and
// notices a peer's close the moment the socket reports it, even while "working" on a reply.
class TestUpstream {
 public:
  struct Reply {
    int status = 200;
    HeaderList headers;  // if they include Content-Length/Transfer-Encoding, body goes verbatim
    std::string body;
    bool chunked = false;
    std::string trailers_raw;            // "Name: value\r\n" lines sent after the last chunk
    std::chrono::milliseconds delay{0};  // "work" before replying; a peer close ends it
    bool close_after = false;            // close the connection after this reply
    std::string raw;                     // if non-empty, written verbatim instead (for malformed-response tests)
    uint64_t stream_bytes = 0;           // if > 0: send this many generatedBody() bytes as the body
    size_t stream_chunk = 16 * 1024;     // write size when streaming
    std::chrono::milliseconds stream_interval{0};  // pause between streamed writes
    bool echo_after_upgrade = true;                // status 101: echo bytes back; false: read and discard
  };
  using Handler = std::function<Reply(const RecordedRequest&)>;

  // Default handler: 101 for requests carrying Upgrade, otherwise 200 with body "ok".
  TestUpstream();
  ~TestUpstream();  // stops accepting, closes connections, joins all threads
  TestUpstream(const TestUpstream&) = delete;
  TestUpstream& operator=(const TestUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"

  int acceptedConnections() const;
  // Connections that ended: closed or reset by the peer, or closed by this server. Counted once.
  int closedConnections() const;
  // Replies sent in full; counted just before their last bytes are written, so a client that
  // has read a whole reply always finds it counted. A reply abandoned part-way is not.
  int requestsServed() const;
  std::vector<RecordedRequest> requests() const;
  // Bytes read from all connections so far (heads, bodies, pipelined bytes), counted as they arrive,
  // before a request is complete: lets a test wait until a partial request has reached the upstream.
  uint64_t bytesReceived() const;
  bool waitForBytesReceived(uint64_t n, std::chrono::milliseconds timeout) const;
  // Waits until the last bytes received (on any connection) are `suffix` (at most 64 KiB).
  bool waitForReceivedEnding(std::string_view suffix, std::chrono::milliseconds timeout) const;

  // Called on connection threads. It may block, but peer closes are only watched during
  // Reply::delay (and streaming), so use delay to model work that a client may abandon.
  void setHandler(Handler handler);

  bool waitForConnectionClosed(int n, std::chrono::milliseconds timeout) const;
  bool waitForRequests(int n, std::chrono::milliseconds timeout) const;
  std::optional<std::chrono::steady_clock::time_point> lastCloseTime() const;

 private:
  class Session;
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void acceptLoop();
  void startSession(int fd);
  void reapFinishedWorkers();
  Reply handle(const RecordedRequest& request);
  void recordRequest(const RecordedRequest& request);
  void recordServed();
  void recordBytes(std::string_view bytes);
  void recordClose();

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd, readable once the destructor runs
  uint16_t port_ = 0;
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  int accepted_ = 0;
  int closed_ = 0;
  int served_ = 0;
  uint64_t bytes_received_ = 0;
  std::string received_tail_;  // the last bytes received, for waitForReceivedEnding()
  std::optional<std::chrono::steady_clock::time_point> last_close_;
  std::list<Worker> workers_;
};

}  // namespace tether::testing
