#include "browser_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/test_env.h"

namespace tether::testing {
namespace {

// A FIFO in a fresh temp dir.
std::string makeFifo() {
  const std::string path = tempDir() + "/commands";
  if (mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("BrowserDriver: mkfifo " + path + " failed");
  return path;
}

// Read-write: open() does not wait for the driver, and the driver's read end sees EOF (and quits) once this process
// closes it or dies.
int openFifo(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("BrowserDriver: cannot open " + path);
  return fd;
}

// The parent PID in /proc/<pid>/stat (the field after the parenthesised command name).
pid_t parentOf(const std::filesystem::path& proc_entry) {
  std::ifstream in(proc_entry / "stat");
  std::string stat;
  std::getline(in, stat);
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close_paren + 1));
  std::string state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

// The browser process playwright started: the driver's child.
pid_t childOf(pid_t parent) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (parentOf(entry.path()) == parent) return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

}  // namespace

std::optional<std::string> lineStartingWith(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) return line;
  }
  return std::nullopt;
}

BrowserDriver::BrowserDriver(const std::string& node, const std::string& driver, const std::string& chromium)
    : fifo_path_(makeFifo()), fifo_fd_(openFifo(fifo_path_)), process_({node, driver, fifo_path_, chromium}) {
  if (!waitForLine("browser ")) {
    ::close(fifo_fd_);
    throw std::runtime_error("the browser driver did not start Chromium:\n" + process_.output());
  }
  chromium_pid_ = childOf(process_.pid());
}

BrowserDriver::~BrowserDriver() {
  send("quit");
  ::close(fifo_fd_);
  process_.waitExit();  // the driver closes the browser and exits (30 s at most, then the stop below)
  process_.stop(SIGTERM);
  // Chromium leads its own process group (playwright spawns it detached): whatever of it is left goes now.
  if (chromium_pid_ > 0) ::kill(-chromium_pid_, SIGKILL);
  std::filesystem::remove(fifo_path_);
}

void BrowserDriver::send(const std::string& command) {
  const std::string line = command + "\n";
  // A line shorter than PIPE_BUF is written whole, at once.
  [[maybe_unused]] const ssize_t n = ::write(fifo_fd_, line.data(), line.size());
}

std::optional<std::string> BrowserDriver::waitForLine(const std::string& prefix) const {
  const auto deadline = std::chrono::steady_clock::now() + Process::kDefaultTimeout;
  for (;;) {
    const std::string text = process_.output();
    if (auto line = lineStartingWith(text, prefix)) return line;
    if (lineStartingWith(text, "error ") || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // between polls only
  }
}

}  // namespace tether::testing
