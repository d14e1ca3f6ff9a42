#pragma once

// The process-level owner: binds the listening sockets (one SO_REUSEPORT socket per listener per worker, so the
// kernel spreads connections), starts the log writer and the workers, and stops them in order.

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_error.h"
#include "log/json_line.h"
#include "log/log_writer.h"

namespace tether {

class Worker;
namespace admin {
class AdminServer;
}
namespace metrics {
class MetricsRegistry;
class RouteMetrics;
}  // namespace metrics

class Server {
 public:
  // `config_path` is what SIGHUP reloads (empty: reload is refused). `workers_fixed`: the worker count came from
  // the command line, so the file's `workers` is not compared on reload.
  explicit Server(std::shared_ptr<const config::Config> config, std::string config_path = {},
                  bool workers_fixed = false);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts the workers; false with a message if anything could not be set up.
  bool start(std::string* error);
  // Cancels what is in flight, stops the workers and flushes the log.
  void stop();
  // main(): runs until SIGINT/SIGTERM; SIGHUP reloads the config, SIGUSR1 reopens the log file. Returns the
  // process exit code.
  int runUntilSignalled();
  // Loads config_path again. Invalid: logs every error (file:line:column) and keeps the running config. Valid:
  // new requests use it, in-flight ones finish on the old one; startup-only changes are logged as needing a
  // restart. Returns whether the new config was applied. Main thread only (loading resolves host names).
  bool reload();

  log::LogWriter& logWriter() { return *log_writer_; }
  // The admin listener while started (null before start() and after stop()): drain calls setReady(false) on it.
  admin::AdminServer* adminServer() { return admin_.get(); }

 private:
  void drain(const sigset_t& signals);
  // Logs each error as config_reload_failed and counts the failure; returns false.
  bool reloadFailed(const std::vector<config::ConfigError>& errors);
  bool bindListeners(std::vector<std::vector<int>>* fds, std::string* error);
  void logEvent(std::string_view event, std::string_view message, std::string_view level = "info",
                const std::function<void(log::JsonLine&)>& fields = {});
  // One warn line per upstream with `tls: {verify: false}`: its certificates are accepted unchecked.
  void warnUnverifiedUpstreams(const config::Config& config);
  bool startAdmin(std::vector<std::shared_ptr<metrics::RouteMetrics>> route_metrics, std::string* error);
  std::vector<std::shared_ptr<metrics::RouteMetrics>> newRouteMetrics(const config::Config& config) const;

  std::shared_ptr<const config::Config> config_;  // the one applied last
  std::string config_path_;
  bool workers_fixed_ = false;
  std::atomic<uint64_t> reloads_succeeded_{0};  // read by the admin thread
  std::atomic<uint64_t> reloads_failed_{0};
  std::unique_ptr<log::LogWriter> log_writer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<metrics::MetricsRegistry> metrics_;  // reads the workers' metrics
  std::unique_ptr<admin::AdminServer> admin_;          // stopped before the workers
  bool started_ = false;
};

// Blocks the signals the server handles in the calling thread (and so in every thread it starts afterwards).
void blockServerSignals();

}  // namespace tether
