#pragma once

// The soak's origin server: HTTP/1.1 on 127.0.0.1:<ephemeral>, one detached thread per connection, nothing kept
// per request (TestUpstream records every request and body, which 300,000 requests would turn into gigabytes).
//
// The target says what to do: /s/<request id>/<action>/<size>
//   get     200 with generatedBody(size) (chunked when size % 3 == 0, Content-Length otherwise)
//   post    reads the body, checks it against generatedBody, answers as `get` plus X-Body-Ok: yes|no and
//           X-Body-Bytes: <bytes received>
//   wait    marks the id as arrived, then holds the answer until tether closes the connection (kHold at most)
//   part    marks the id as arrived as soon as the head is read (a mid-body abort waits for it), then as post
//   stall   sends the head (Content-Length: size) and the first kStallPiece body bytes, then holds the rest the
//           same way
// A request body is read (and checked) for every action, so a mid-body abort leaves the thread reading it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

namespace tether::soak {

inline constexpr uint64_t kStallPiece = 1024;
inline constexpr std::chrono::seconds kHold{20};

// The reference bytes every body is compared with: reference()[i] == generatedByte(i).
const std::string& reference();

// Request ids whose `wait` request reached the upstream. A client waits for its id before it leaves, so the abort
// happens while tether holds an exchange for it (and so must cancel), whatever the machine's load.
class Arrivals {
 public:
  void mark(const std::string& id);
  // True once `id` arrived (consumed); false after `timeout`.
  bool waitFor(const std::string& id, std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_set<std::string> arrived_;
};

class SoakUpstream {
 public:
  SoakUpstream();
  ~SoakUpstream();  // stops accepting, wakes every connection thread and waits (bounded) for them to end
  SoakUpstream(const SoakUpstream&) = delete;
  SoakUpstream& operator=(const SoakUpstream&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Arrivals& arrivals() { return arrivals_; }
  int openConnections() const { return open_.load(); }
  uint64_t acceptedConnections() const { return accepted_.load(); }
  uint64_t bodyMismatches() const { return body_mismatches_.load(); }
  uint64_t heldTooLong() const { return held_too_long_.load(); }  // wait/stall holds that reached kHold
  // Polls until at most `n` connections are open; false after `timeout`.
  bool waitForOpenConnections(int n, std::chrono::milliseconds timeout) const;

 private:
  void acceptLoop();
  void serve(int fd);

  int listen_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  Arrivals arrivals_;
  std::atomic<int> open_{0};
  std::atomic<int> threads_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> body_mismatches_{0};
  std::atomic<uint64_t> held_too_long_{0};
};

}  // namespace tether::soak
