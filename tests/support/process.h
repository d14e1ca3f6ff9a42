#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tether::testing {

// A child process (the tether binary, the demo upstream) with stdout and stderr captured
// together by a reader thread. The destructor stops it. If the spawning thread dies, the kernel
// kills the child (PR_SET_PDEATHSIG), so a crashed test run leaves no stray servers behind.
class Process {
 public:
  // Generous: only a failing test waits this long; a busy machine must not fail a passing one.
  static constexpr std::chrono::milliseconds kDefaultTimeout{30000};

  // argv[0] is the executable path. Throws std::runtime_error if it cannot be started.
  explicit Process(std::vector<std::string> argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  std::string output() const;
  // True once the captured output contains `needle`; false on timeout or once the process has
  // exited and all its output was read without the needle appearing.
  bool waitForOutput(std::string_view needle, std::chrono::milliseconds timeout = kDefaultTimeout) const;
  // Exit code once exited (128 + signal number if killed by a signal); nullopt on timeout.
  std::optional<int> waitExit(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Sends `signal`, waits up to `timeout`, then SIGKILL. Returns the exit code as waitExit().
  int stop(int signal = SIGTERM, std::chrono::milliseconds timeout = kDefaultTimeout);

 private:
  void spawn(const std::vector<std::string>& argv);
  void readOutput();
  bool reap(bool block);
  void stopReader();

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  int out_fd_ = -1;   // read end of the child's stdout/stderr pipe
  int wake_fd_ = -1;  // eventfd that tells the reader to give up on a pipe grandchildren hold open
  std::thread reader_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::string output_;
  bool output_done_ = false;
};

// Entries of /proc/<pid>/fd: the descriptors a process holds (0 if it cannot be read).
int openDescriptors(pid_t pid);

}  // namespace tether::testing
