#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "log/json_line.h"
#include "log/log_queue.h"
#include "log/log_settings.h"

namespace tether::log {

// Owns the log sink and the one thread that writes to it. Each producer thread gets its own LogQueue
// (createQueue) and pushes lines without locks; the writer polls every queue every few milliseconds and
// writes what it finds in large batches, so a slow or blocked sink stalls only the writer thread, and
// producers then drop (and count) lines instead of waiting. Drops are reported in the log itself as
// {"event":"log_lines_dropped","count":N,"total":M} lines, at most once per second.
//
// Lifetime: queues belong to the writer; producers must stop using them before it is destroyed.
class LogWriter {
 public:
  explicit LogWriter(const LogSettings& config);
  ~LogWriter();  // stop(), then closes a file sink
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Opens the sink (stdout, stderr, or the file with O_APPEND|O_CREAT|O_CLOEXEC). Call before start().
  bool open(std::string* error);
  // A new queue for one producer thread. Any thread, any time: the writer picks up new queues.
  LogQueue* createQueue();
  // Starts the writer thread. Only the first call has an effect; a stopped writer stays stopped.
  void start();
  // Writes everything queued so far, then joins the thread. Idempotent. Producers should be quiet by now:
  // lines pushed to worker queues later stay queued until the next writeDirect() or destruction.
  void stop();
  // Async-signal-safe (for SIGUSR1 after logrotate): only sets a flag. The writer reopens the file before
  // writing anything popped after this call. No effect on stdout/stderr sinks.
  void requestReopen();
  // For the main thread at startup and shutdown (serialized, so any thread may call it). Goes through a
  // dedicated queue; while the writer thread is not running the line is written before returning.
  bool writeDirect(std::string_view line);
  // Lines dropped because a queue was full, summed over all queues.
  uint64_t droppedLines() const;

 private:
  void run();
  // One pass over every queue (writer thread, or the caller while the thread is not running).
  // True if some queue still has lines, i.e. the caller should not sleep.
  bool serviceOnce();
  void drainFromCaller();
  void refreshQueues();
  void flushBatch();
  void reportDrops(bool force);
  void reopenIfRequested();
  bool writeAll(std::string_view data);

  const LogSettings config_;
  int fd_ = -1;
  bool owns_fd_ = false;

  mutable std::mutex queues_mutex_;  // registration path only; never taken by producers when pushing
  std::vector<std::unique_ptr<LogQueue>> queues_;
  std::atomic<uint64_t> queues_generation_{0};  // bumped on registration: lets the writer skip the lock
  LogQueue* direct_queue_ = nullptr;

  std::mutex lifecycle_mutex_;  // start/stop and the producer side of direct_queue_
  bool running_ = false;
  bool stopped_ = false;
  std::thread thread_;

  std::mutex wake_mutex_;           // only for sleeping and stop(); producers never touch it
  uint64_t passes_with_lines_ = 0;  // writer thread: picks the poll interval
  std::condition_variable wake_;
  bool stop_requested_ = false;

  std::atomic<bool> reopen_requested_{false};
  static_assert(std::atomic<bool>::is_always_lock_free, "requestReopen must be async-signal-safe");

  // Consumer state: used by whichever thread is the consumer (the writer, or a caller while it is not running).
  std::vector<LogQueue*> snapshot_;
  uint64_t snapshot_generation_ = 0;
  std::string batch_;
  JsonLine own_line_;
  uint64_t reported_drops_ = 0;
  std::chrono::steady_clock::time_point last_drop_report_;
};

}  // namespace tether::log
