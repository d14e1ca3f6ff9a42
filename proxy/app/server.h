#pragma once

// The process-level owner: binds the listening sockets (one SO_REUSEPORT socket per listener per worker, so the
// kernel spreads connections), starts the log writer and the workers, and stops them in order.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "log/log_writer.h"

namespace tether {

class Worker;
namespace admin {
class AdminServer;
}
namespace metrics {
class MetricsRegistry;
}

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Config> config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts the workers; false with a message if anything could not be set up.
  bool start(std::string* error);
  // Cancels what is in flight, stops the workers and flushes the log.
  void stop();
  // main(): runs until SIGINT/SIGTERM; SIGUSR1 reopens the log file. Returns the process exit code.
  int runUntilSignalled();

  log::LogWriter& logWriter() { return *log_writer_; }
  // The admin listener while started (null before start() and after stop()): drain calls setReady(false) on it.
  admin::AdminServer* adminServer() { return admin_.get(); }

 private:
  void drain(const sigset_t& signals);
  bool bindListeners(std::vector<std::vector<int>>* fds, std::string* error);
  void logEvent(std::string_view event, std::string_view message);
  bool startAdmin(std::string* error);

  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<log::LogWriter> log_writer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<metrics::MetricsRegistry> metrics_;  // reads the workers' metrics
  std::unique_ptr<admin::AdminServer> admin_;          // stopped before the workers
  bool started_ = false;
};

// Blocks the signals the server handles in the calling thread (and so in every thread it starts afterwards).
void blockServerSignals();

}  // namespace tether
