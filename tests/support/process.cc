#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace tether::testing {
namespace {

// Test peers write to sockets tether may just have closed (that is often the point): the write must fail with
// EPIPE, not kill the test process. Every test binary links this file; children get SIGPIPE back (execChild).
[[maybe_unused]] const bool kSigpipeIgnored = std::signal(SIGPIPE, SIG_IGN) != SIG_ERR;

// Runs in the forked child: async-signal-safe calls only, no allocation.
[[noreturn]] void execChild(char* const* argv, int out_fd, int error_fd, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  const int null_fd = open("/dev/null", O_RDONLY);
  dup2(null_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);  // dup2 clears close-on-exec on the copies
  dup2(out_fd, STDERR_FILENO);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, nullptr);  // an ignored SIGPIPE would survive exec
  execv(argv[0], argv);
  const int err = errno;
  [[maybe_unused]] const ssize_t n = write(error_fd, &err, sizeof err);
  _exit(127);
}

}  // namespace

Process::Process(std::vector<std::string> argv) {
  if (argv.empty()) throw std::invalid_argument("Process: empty argv");
  spawn(argv);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  reader_ = std::thread([this] { readOutput(); });
}

Process::~Process() {
  stop();
  ::close(out_fd_);
  ::close(wake_fd_);
}

void Process::spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;  // built before fork(): the child must not allocate
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int out_pipe[2];
  int exec_pipe[2];  // carries errno from a failed exec; a successful exec closes it (EOF)
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("Process: pipe failed");
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("Process: pipe failed");
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) execChild(args.data(), out_pipe[1], exec_pipe[1], parent);
  const int fork_errno = errno;
  ::close(out_pipe[1]);
  ::close(exec_pipe[1]);
  out_fd_ = out_pipe[0];
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (pid_ < 0 || n > 0) {
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    ::close(out_fd_);
    const int error = pid_ < 0 ? fork_errno : exec_errno;
    throw std::runtime_error("Process: cannot run " + argv[0] + ": " + std::strerror(error));
  }
}

void Process::readOutput() {
  char buf[4096];
  while (true) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno == EINTR) continue;
    if (fds[1].revents != 0) break;
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    output_.append(buf, static_cast<size_t>(n));
    changed_.notify_all();
  }
  std::lock_guard lock(mu_);
  output_done_ = true;
  changed_.notify_all();
}

std::string Process::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

bool Process::waitForOutput(std::string_view needle, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return output_.find(needle) != std::string::npos || output_done_; });
  return output_.find(needle) != std::string::npos;
}

// Collects the exit status if the child has exited (waiting for it if `block`).
bool Process::reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    exit_code_ = -1;  // not our child any more; nothing to wait for
  } else {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return true;
}

bool Process::running() { return !reap(false); }

std::optional<int> Process::waitExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
  }
  return exit_code_;
}

int Process::stop(int signal, std::chrono::milliseconds timeout) {
  if (!reap(false)) {
    kill(pid_, signal);
    if (!waitExit(timeout)) {
      kill(pid_, SIGKILL);
      reap(true);
    }
  }
  stopReader();
  return *exit_code_;
}

// The pipe reaches EOF when the child exits, unless a grandchild still holds it: wait briefly
// for the rest of the output, then tell the reader to stop regardless.
void Process::stopReader() {
  if (!reader_.joinable()) return;
  {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, std::chrono::seconds(1), [&] { return output_done_; });
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  reader_.join();
}

int openDescriptors(pid_t pid) {
  std::error_code error;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++n;
  }
  return n;
}

}  // namespace tether::testing
