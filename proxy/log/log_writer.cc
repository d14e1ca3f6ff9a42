#include "log/log_writer.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tether::log {
namespace {

// The writer polls every 5 ms while lines flow and backs off to 50 ms when passes find nothing: an idle proxy
// wakes 20 times a second instead of 200, and a queue (8192 lines by default) still absorbs a burst of 160k
// lines/s arriving at the end of an idle period.
constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr auto kIdlePollInterval = std::chrono::milliseconds(50);
constexpr auto kDropReportInterval = std::chrono::seconds(1);
constexpr size_t kBatchBytes = 64 * 1024;  // one write() per this much, and per-queue share of a pass

std::string errnoText(int error) {
  char buffer[128];
  return strerror_r(error, buffer, sizeof(buffer));  // GNU variant: returns the message pointer
}

int openFile(const std::string& path) { return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644); }

}  // namespace

LogWriter::LogWriter(const LogSettings& config)
    : config_(config), last_drop_report_(std::chrono::steady_clock::now() - kDropReportInterval) {
  direct_queue_ = createQueue();
}

LogWriter::~LogWriter() {
  stop();
  if (owns_fd_) ::close(fd_);
}

bool LogWriter::open(std::string* error) {
  int fd = -1;
  switch (config_.sink) {
    case LogSettings::Sink::Stdout: fd = STDOUT_FILENO; break;
    case LogSettings::Sink::Stderr: fd = STDERR_FILENO; break;
    case LogSettings::Sink::File:
      if (config_.path.empty()) {
        if (error) *error = "log sink is a file but no path is configured";
        return false;
      }
      fd = openFile(config_.path);
      if (fd < 0) {
        if (error) *error = "cannot open log file " + config_.path + ": " + errnoText(errno);
        return false;
      }
      break;
  }
  if (owns_fd_) ::close(fd_);
  fd_ = fd;
  owns_fd_ = config_.sink == LogSettings::Sink::File;
  return true;
}

LogQueue* LogWriter::createQueue() {
  std::lock_guard lock(queues_mutex_);
  queues_.push_back(std::make_unique<LogQueue>(config_.queue_lines));
  queues_generation_.fetch_add(1, std::memory_order_release);
  return queues_.back().get();
}

void LogWriter::start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (running_ || stopped_) return;
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void LogWriter::stop() {
  std::lock_guard lock(lifecycle_mutex_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard wake_lock(wake_mutex_);
    stop_requested_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  running_ = false;
  drainFromCaller();  // the thread is gone: this thread is now the only consumer
}

void LogWriter::requestReopen() { reopen_requested_.store(true, std::memory_order_relaxed); }

bool LogWriter::writeDirect(std::string_view line) {
  std::lock_guard lock(lifecycle_mutex_);  // direct_queue_ has one producer at a time
  const bool queued = direct_queue_->tryPush(line);
  if (!running_ && fd_ >= 0) drainFromCaller();
  return queued;
}

uint64_t LogWriter::droppedLines() const {
  std::lock_guard lock(queues_mutex_);
  uint64_t total = 0;
  for (const auto& queue : queues_) total += queue->dropped();
  return total;
}

void LogWriter::run() {
  std::unique_lock lock(wake_mutex_);
  auto interval = kPollInterval;
  while (!stop_requested_) {
    lock.unlock();
    const uint64_t before = passes_with_lines_;
    const bool more = serviceOnce();
    interval = passes_with_lines_ != before ? kPollInterval : std::min(interval * 2, kIdlePollInterval);
    lock.lock();
    // Polling instead of being notified keeps producers free of any lock or syscall.
    if (!more) wake_.wait_for(lock, interval, [this] { return stop_requested_; });
  }
}

bool LogWriter::serviceOnce() {
  refreshQueues();
  bool more = false;
  bool found = false;
  for (LogQueue* queue : snapshot_) {
    // A bounded share per queue per pass, so one chatty producer cannot starve the others.
    const size_t limit = batch_.size() + kBatchBytes;
    const size_t had = batch_.size();
    queue->popInto(batch_, limit);
    if (batch_.size() != had) found = true;
    if (queue->sizeApprox() > 0) more = true;
    if (batch_.size() >= kBatchBytes) flushBatch();
  }
  flushBatch();
  reportDrops(false);
  if (found) ++passes_with_lines_;
  return more;
}

void LogWriter::drainFromCaller() {
  while (serviceOnce()) {
  }
  reportDrops(true);
}

void LogWriter::refreshQueues() {
  if (queues_generation_.load(std::memory_order_acquire) == snapshot_generation_) return;
  std::lock_guard lock(queues_mutex_);
  snapshot_.clear();
  for (const auto& queue : queues_) snapshot_.push_back(queue.get());
  snapshot_generation_ = queues_generation_.load(std::memory_order_relaxed);
}

void LogWriter::flushBatch() {
  if (batch_.empty()) return;
  // Checked after popping: a line pushed after requestReopen() returned is never written to the old file.
  reopenIfRequested();
  writeAll(batch_);
  batch_.clear();
}

void LogWriter::reportDrops(bool force) {
  uint64_t total = 0;
  for (const LogQueue* queue : snapshot_) total += queue->dropped();
  if (total == reported_drops_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_drop_report_ < kDropReportInterval) return;
  own_line_.begin("log_lines_dropped", std::chrono::system_clock::now())
      .field("level", "warn")
      .field("count", total - reported_drops_)
      .field("total", total);
  reopenIfRequested();
  writeAll(own_line_.finish());
  reported_drops_ = total;
  last_drop_report_ = now;
}

void LogWriter::reopenIfRequested() {
  if (!reopen_requested_.load(std::memory_order_relaxed)) return;
  reopen_requested_.store(false, std::memory_order_relaxed);
  if (config_.sink != LogSettings::Sink::File || fd_ < 0) return;
  const int fd = openFile(config_.path);
  if (fd < 0) {  // keep writing to the old file, and say so in it
    own_line_.begin("log_reopen_failed", std::chrono::system_clock::now())
        .field("level", "error")
        .field("path", config_.path)
        .field("error", errnoText(errno));
    writeAll(own_line_.finish());
    return;
  }
  ::close(fd_);
  fd_ = fd;
}

bool LogWriter::writeAll(std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd_, data.data(), data.size());
    if (written >= 0) {
      data.remove_prefix(static_cast<size_t>(written));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd pfd{fd_, POLLOUT, 0};  // a non-blocking sink (shared stdout): wait here, on the writer thread
      ::poll(&pfd, 1, -1);
    } else if (errno != EINTR) {
      return false;  // EBADF, ENOSPC, EPIPE...: nowhere to report it; drop this batch
    }
  }
  return true;
}

}  // namespace tether::log
