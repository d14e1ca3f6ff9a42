#include "app/server.h"

#include <event2/thread.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "admin/admin_server.h"
#include "app/tls_files.h"
#include "config/config_loader.h"
#include "config/startup_settings.h"
#include "metrics/metrics_registry.h"
#include "metrics/route_metrics.h"
#include "tls/ticket_key_schedule.h"
#include "worker/worker.h"

namespace tether {
namespace {

constexpr int kListenBacklog = 4096;

// The signals main() turns into actions: stop/drain, reload, reopen the log.
sigset_t serverSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

int bindOne(const net::SocketAddress& address, std::string* error) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, address.sockaddr_ptr(), address.length()) != 0 || listen(fd, kListenBacklog) != 0) {
    *error = "cannot listen on " + address.toString() + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

void blockServerSignals() {
  const sigset_t set = serverSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an EPIPE, not a process exit
}

Server::Server(std::shared_ptr<const config::Config> config, std::string config_path, bool workers_fixed)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      workers_fixed_(workers_fixed),
      log_writer_(std::make_unique<log::LogWriter>(config_->log)) {}

Server::~Server() { stop(); }

bool Server::bindListeners(std::vector<std::vector<int>>* fds, std::string* error) {
  fds->assign(config_->workers, {});
  for (unsigned w = 0; w < config_->workers; ++w) {
    for (const auto& listener : config_->listeners) {
      int fd = bindOne(listener.address, error);
      if (fd < 0) {
        *error = "listener '" + listener.name + "': " + *error;
        for (auto& list : *fds) {
          for (int open_fd : list) close(open_fd);
        }
        return false;
      }
      (*fds)[w].push_back(fd);
    }
  }
  return true;
}

bool Server::start(std::string* error) {
  static const bool threads_ready = evthread_use_pthreads() == 0;  // once per process, before any event_base
  if (!threads_ready) {
    *error = "libevent thread support unavailable";
    return false;
  }
  signal(SIGPIPE, SIG_IGN);
  if (!log_writer_->open(error)) return false;
  // Each worker loads its own contexts; this first load is only to fail at startup with a clear message.
  if (const auto tls_errors = tlsFileErrors(*config_, config_path_); !tls_errors.empty()) {
    *error = tls_errors.front().toString();
    return false;
  }
  std::vector<std::vector<int>> fds;
  if (!bindListeners(&fds, error)) return false;
  log_writer_->start();
  auto route_metrics = newRouteMetrics(*config_);
  // One seed for every worker's ticket keys (each derives the same chain from it); wiped once they took it.
  tls::TicketKeySchedule tickets = tls::TicketKeySchedule::generate();
  for (unsigned w = 0; w < config_->workers; ++w) {
    workers_.push_back(
        std::make_unique<Worker>(w, config_, std::move(fds[w]), log_writer_->createQueue(), route_metrics[w], tickets));
  }
  tickets.wipe();
  started_ = true;
  for (auto& worker : workers_) {
    std::vector<config::ConfigError> tls_errors;
    auto contexts = loadListenerContexts(
        *config_, [&](size_t i) { return worker->tlsHooks(i); }, config_path_, &tls_errors);
    if (!tls_errors.empty()) {  // the files changed since they were checked above
      *error = tls_errors.front().toString();
      stop();
      return false;
    }
    worker->start(std::move(contexts));
  }
  if (!startAdmin(std::move(route_metrics), error)) {
    stop();
    return false;
  }
  std::string message = "listening on";
  for (const auto& listener : config_->listeners) message += " " + listener.address.toString();
  message += " with " + std::to_string(config_->workers) + " worker(s)";
  logEvent("startup", message);
  warnUnverifiedUpstreams(*config_);
  return true;
}

void Server::stop() {
  if (!started_) return;
  started_ = false;
  if (admin_) admin_->stop();
  admin_.reset();
  metrics_.reset();
  for (auto& worker : workers_) worker->stop();
  workers_.clear();
  logEvent("shutdown", "stopped");
  log_writer_->stop();
}

std::vector<std::shared_ptr<metrics::RouteMetrics>> Server::newRouteMetrics(const config::Config& config) const {
  std::vector<std::shared_ptr<metrics::RouteMetrics>> out;
  for (unsigned w = 0; w < config.workers; ++w) {
    out.push_back(std::make_shared<metrics::RouteMetrics>(config.routes.size(), config.upstreams.size()));
  }
  return out;
}

bool Server::startAdmin(std::vector<std::shared_ptr<metrics::RouteMetrics>> route_metrics, std::string* error) {
  std::vector<const metrics::WorkerMetrics*> sources;
  for (const auto& worker : workers_) sources.push_back(&worker->metrics());
  metrics_ = std::make_unique<metrics::MetricsRegistry>(std::move(sources));
  metrics_->addSnapshot(*config_, {route_metrics.begin(), route_metrics.end()});
  admin_ = std::make_unique<admin::AdminServer>(config_, *metrics_, [this] {
    return metrics::ProcessCounters{.log_lines_dropped = log_writer_->droppedLines(),
                                    .config_reloads_success = reloads_succeeded_.load(std::memory_order_relaxed),
                                    .config_reloads_failure = reloads_failed_.load(std::memory_order_relaxed)};
  });
  if (!admin_->start(error)) return false;
  admin_->setReady(true);  // the workers run and the listeners are bound
  return true;
}

void Server::logEvent(std::string_view event, std::string_view message, std::string_view level,
                      const std::function<void(log::JsonLine&)>& fields) {
  log::JsonLine line;
  line.begin(event, std::chrono::system_clock::now());
  line.field("level", level).field("message", message);
  if (fields) fields(line);
  log_writer_->writeDirect(line.finish());
}

void Server::warnUnverifiedUpstreams(const config::Config& config) {
  for (const auto& upstream : config.upstreams) {
    if (!upstream.tls || upstream.tls->verify) continue;
    logEvent("upstream_tls_unverified",
             "upstream '" + upstream.name + "': tls.verify is false, any certificate is accepted", "warn",
             [&](log::JsonLine& line) { line.field("upstream", std::string_view(upstream.name)); });
  }
}

bool Server::reload() {
  if (config_path_.empty()) {
    logEvent("config_reload_failed", "no config file to reload", "error");
    reloads_failed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const config::LoadResult result = config::loadConfigFile(config_path_);
  if (!result.ok()) return reloadFailed(result.errors);
  // As at startup: the TLS files must load, or the running config stays.
  if (const auto tls_errors = tlsFileErrors(*result.config, config_path_); !tls_errors.empty()) {
    return reloadFailed(tls_errors);
  }
  auto next = std::make_shared<config::Config>(*result.config);
  if (workers_fixed_) next->workers = config_->workers;
  const std::vector<std::string> restart = config::keepStartupSettings(*config_, *next);
  // The listeners' contexts, for new handshakes: certificate files are read again even where their paths did not
  // change (a renewed certificate), on this thread, for each worker (its ticket keys and counters).
  std::vector<Worker::TlsContexts> contexts;
  for (auto& worker : workers_) {
    std::vector<config::ConfigError> tls_errors;
    contexts.push_back(loadListenerContexts(
        *next, [&](size_t i) { return worker->tlsHooks(i); }, config_path_, &tls_errors));
    if (!tls_errors.empty()) return reloadFailed(tls_errors);
  }
  if (!restart.empty()) {
    std::string keys;
    for (const auto& key : restart) keys += (keys.empty() ? "" : ", ") + key;
    logEvent("config_reload_restart_required",
             "changes to " + keys +
                 " take effect only after a restart; "
                 "the running values are kept",
             "warn");
  }
  auto route_metrics = newRouteMetrics(*next);
  if (metrics_) metrics_->addSnapshot(*next, {route_metrics.begin(), route_metrics.end()});
  for (size_t w = 0; w < workers_.size(); ++w) workers_[w]->reload(next, route_metrics[w], std::move(contexts[w]));
  config_ = next;
  if (admin_) admin_->setConfig(config_);
  reloads_succeeded_.fetch_add(1, std::memory_order_relaxed);
  logEvent("config_reloaded", "new requests use " + std::to_string(next->routes.size()) + " route(s) and " +
                                  std::to_string(next->upstreams.size()) + " upstream(s) from " + config_path_ +
                                  "; requests in flight finish on the previous config");
  warnUnverifiedUpstreams(*next);
  return true;
}

bool Server::reloadFailed(const std::vector<config::ConfigError>& errors) {
  // One line per problem, as `tether --check` prints them; the running config stays.
  for (const config::ConfigError& e : errors) {
    logEvent("config_reload_failed", e.toString(), "error", [&](log::JsonLine& line) {
      line.field("file", std::string_view(e.file))
          .field("line", static_cast<int64_t>(e.line))
          .field("column", static_cast<int64_t>(e.column))
          .field("key", std::string_view(e.key_path));
    });
  }
  reloads_failed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

int Server::runUntilSignalled() {
  const sigset_t set = serverSignals();
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (signal_number == SIGUSR1) {
      log_writer_->requestReopen();
    } else if (signal_number == SIGHUP) {
      reload();
    } else {
      drain(set);
      break;
    }
  }
  stop();
  return 0;
}

void Server::drain(const sigset_t& signals) {
  // Stop accepting, report not-ready, and give in-flight requests drain_timeout to finish; stop() then cancels
  // what is left with reason `shutdown`. A second SIGINT/SIGTERM skips the wait.
  // Workers first: once `drain_started` is in the log, every response that follows says `Connection: close`.
  if (admin_) admin_->setReady(false);
  for (auto& worker : workers_) worker->beginDrain();
  logEvent("drain_started",
           "draining in-flight requests for up to " + std::to_string(config_->drain_timeout.count()) + " ms");
  const auto deadline = std::chrono::steady_clock::now() + config_->drain_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // Done when no request runs and no client connection is open: a connection that received a request just as
    // the drain began is still serving it (its response says `Connection: close`).
    uint64_t in_flight = 0;
    for (const auto& worker : workers_) in_flight += worker->inFlight() + worker->openConnections();
    if (in_flight == 0) return;
    const timespec poll{0, 50 * 1000 * 1000};
    const int signal_number = sigtimedwait(&signals, nullptr, &poll);
    if (signal_number == SIGINT || signal_number == SIGTERM) return;
    if (signal_number == SIGUSR1) log_writer_->requestReopen();
  }
}

}  // namespace tether
