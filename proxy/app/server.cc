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
#include "log/json_line.h"
#include "metrics/metrics_registry.h"
#include "tls/tls_context.h"
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

Server::Server(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)), log_writer_(std::make_unique<log::LogWriter>(config_->log)) {}

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
  for (const auto& listener : config_->listeners) {
    // Each worker loads its own context; this first load is only to fail at startup with a clear message.
    if (listener.tls && !tls::TlsContext::load(*listener.tls, error)) {
      *error = "listener '" + listener.name + "': " + *error;
      return false;
    }
  }
  std::vector<std::vector<int>> fds;
  if (!bindListeners(&fds, error)) return false;
  log_writer_->start();
  for (unsigned w = 0; w < config_->workers; ++w) {
    workers_.push_back(std::make_unique<Worker>(w, config_, std::move(fds[w]), log_writer_->createQueue()));
  }
  for (auto& worker : workers_) worker->start();
  started_ = true;
  if (!startAdmin(error)) {
    stop();
    return false;
  }
  std::string message = "listening on";
  for (const auto& listener : config_->listeners) message += " " + listener.address.toString();
  message += " with " + std::to_string(config_->workers) + " worker(s)";
  logEvent("startup", message);
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

bool Server::startAdmin(std::string* error) {
  std::vector<const metrics::WorkerMetrics*> sources;
  for (const auto& worker : workers_) sources.push_back(&worker->metrics());
  metrics_ = std::make_unique<metrics::MetricsRegistry>(*config_, std::move(sources));
  log::LogWriter* log_writer = log_writer_.get();
  admin_ = std::make_unique<admin::AdminServer>(config_, *metrics_, [log_writer] {
    return metrics::ProcessCounters{.log_lines_dropped = log_writer->droppedLines()};
  });
  if (!admin_->start(error)) return false;
  admin_->setReady(true);  // the workers run and the listeners are bound
  return true;
}

void Server::logEvent(std::string_view event, std::string_view message) {
  log::JsonLine line;
  line.begin(event, std::chrono::system_clock::now());
  line.field("level", std::string_view("info")).field("message", message);
  log_writer_->writeDirect(line.finish());
}

int Server::runUntilSignalled() {
  const sigset_t set = serverSignals();
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (signal_number == SIGUSR1) {
      log_writer_->requestReopen();
    } else if (signal_number == SIGHUP) {
      logEvent("config_reload_skipped", "reload on SIGHUP is not implemented yet; restart to apply changes");
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
  logEvent("drain_started", "draining in-flight requests for up to " +
                                std::to_string(config_->drain_timeout.count()) + " ms");
  if (admin_) admin_->setReady(false);
  for (auto& worker : workers_) worker->beginDrain();
  const auto deadline = std::chrono::steady_clock::now() + config_->drain_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    uint64_t in_flight = 0;
    for (const auto& worker : workers_) in_flight += worker->inFlight();
    if (in_flight == 0) return;
    const timespec poll{0, 50 * 1000 * 1000};
    const int signal_number = sigtimedwait(&signals, nullptr, &poll);
    if (signal_number == SIGINT || signal_number == SIGTERM) return;
    if (signal_number == SIGUSR1) log_writer_->requestReopen();
  }
}

}  // namespace tether
