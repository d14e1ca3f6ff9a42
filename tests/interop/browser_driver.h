#pragma once

// One headless Chromium for the browser interop tests, driven by browser/driver.js (playwright-core on Debian's
// /usr/bin/chromium). Commands go to the driver as lines through a FIFO (the test process keeps it open read-write,
// so neither side blocks on open); the driver's answers are stdout lines, waited for as events (output_lines.h).
// The command set is documented in driver.js.
//
// Chromium runs in its own process group (playwright starts it detached); the destructor asks the driver to quit,
// stops it by PID, then SIGKILLs that process group, so no Chromium outlives a test, failed or not. Chromium also
// exits by itself when the driver dies: its DevTools pipe closes.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "support/process.h"

namespace tether::testing {

class BrowserDriver {
 public:
  // Starts node `driver` with `chromium`, waits until the browser is up. Throws std::runtime_error if it is not.
  BrowserDriver(const std::string& node, const std::string& driver, const std::string& chromium);
  ~BrowserDriver();
  BrowserDriver(const BrowserDriver&) = delete;
  BrowserDriver& operator=(const BrowserDriver&) = delete;

  // Sends one command line ("open https://...", "fetch <id> <path>", "abort <id>", ...).
  void send(const std::string& command);
  // The first driver line that starts with `prefix` (waiting up to 30 s), or nullopt; an `error ...` line of the
  // driver ends the wait early.
  std::optional<std::string> waitForLine(const std::string& prefix) const;
  std::string output() const { return process_.output(); }
  pid_t chromiumPid() const { return chromium_pid_; }

 private:
  std::string fifo_path_;
  int fifo_fd_ = -1;
  Process process_;
  pid_t chromium_pid_ = -1;
};

// The first line of `text` that starts with `prefix`.
std::optional<std::string> lineStartingWith(const std::string& text, const std::string& prefix);

}  // namespace tether::testing
