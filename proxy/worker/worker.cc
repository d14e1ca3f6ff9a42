#include "worker/worker.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "downstream/downstream_session.h"
#include "upstream/http2_upstream_pool.h"
#include "upstream/upstream_pool.h"

namespace tether {

namespace {

// How often a worker checks whether the requests still running on a replaced config snapshot have all ended.
constexpr timeval kSweepInterval{1, 0};

// A base without libevent's lock: once the loop runs only its own thread touches it (other threads go through
// Worker::wake), so the lock taken in every event_add/del/active (~14 pairs per request) protected nothing.
event_base* newUnlockedBase() {
  event_config* config = event_config_new();
  event_config_set_flag(config, EVENT_BASE_FLAG_NOLOCK);
  event_base* base = event_base_new_with_config(config);
  event_config_free(config);
  return base;
}

}  // namespace

Worker::Worker(unsigned index, std::shared_ptr<const config::Config> config, std::vector<int> listen_fds,
               log::LogQueue* log_queue, std::shared_ptr<metrics::RouteMetrics> route_metrics,
               const tls::TicketKeySchedule& tickets)
    : index_(index),
      config_(std::move(config)),
      metrics_(config_->admin.recent_cancellations),
      base_(newUnlockedBase()),
      deleter_(base_.get()),
      idle_timeouts_(base_.get(), &DownstreamSession::onTimeout),
      head_timeouts_(base_.get(), &DownstreamSession::onTimeout),
      io_(base_.get()),
      logger_(log_queue, config_->log.level),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      wake_event_(event_new(base_.get(), wake_fd_.get(), EV_READ | EV_PERSIST, &Worker::onWake, this)),
      sweep_timer_(evtimer_new(base_.get(), &Worker::onSweep, this)) {
  if (wake_fd_.get() < 0) throw std::system_error(errno, std::generic_category(), "worker eventfd");
  event_add(wake_event_.get(), nullptr);
  context_.base = base_.get();
  context_.snapshot = std::make_shared<ConfigSnapshot>(config_, std::move(route_metrics), sourceFactory());
  context_.logger = &logger_;
  context_.request_ids = &request_ids_;
  context_.detached = this;
  context_.metrics = &metrics_;

  listeners_.resize(listen_fds.size());
  tls_hooks_.resize(config_->listeners.size());  // not resized again: the contexts point into it
  for (size_t i = 0; i < config_->listeners.size(); ++i) {
    const auto& listener = config_->listeners[i];
    ticket_keys_.push_back(
        listener.tls ? std::make_unique<tls::TicketKeyRing>(tickets, listener.name, listener.tls->ticket_rotation)
                     : nullptr);
    tls_hooks_[i] = {ticket_keys_.back().get(), this};
  }
  accept_args_.reserve(listen_fds.size());
  for (size_t i = 0; i < listen_fds.size(); ++i) {
    const auto& listener = config_->listeners[i];
    listeners_[i].max_connections = listener.limits.max_connections.value_or(config_->limits.max_client_connections);
    accept_args_.emplace_back(this, i);
    // Backlog 0: the socket is already listening.
    listeners_[i].listener.reset(evconnlistener_new(base_.get(), &Worker::onAccept, &accept_args_.back(),
                                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fds[i]));
  }
}

Worker::~Worker() {
  stop();
  listeners_.clear();
  sessions_.clear();
  detached_.clear();
  deleter_.flush();
  retired_.clear();
  context_.snapshot.reset();
  deleter_.flush();
}

void Worker::start(TlsContexts tls) {
  tls_ = std::move(tls);
  thread_ = std::thread([this] { event_base_dispatch(base_.get()); });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  wake(kWakeStop);
  thread_.join();
}

void Worker::beginDrain() {
  draining_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) wake(kWakeDrain);
}

// Any thread. The bit is set before the write, and onWake reads the eventfd before taking the bits: a request is
// either taken by the onWake already running or wakes the loop again (at worst once with no bit left).
void Worker::wake(WakeRequest request) {
  wake_requests_.fetch_or(request, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));  // fails only on counter overflow
}

void Worker::onWake(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof(count));
  const unsigned requests = self->wake_requests_.exchange(0, std::memory_order_acquire);
  if (requests & kWakeReload) self->applyReload();
  if (requests & kWakeDrain) self->drainListenersAndSessions();
  if (requests & kWakeStop) self->stopLoop();
}

void Worker::reload(std::shared_ptr<const config::Config> config, std::shared_ptr<metrics::RouteMetrics> route_metrics,
                    TlsContexts tls) {
  {
    std::lock_guard lock(reload_mutex_);
    pending_config_ = std::move(config);
    pending_metrics_ = std::move(route_metrics);
    pending_tls_ = std::move(tls);
  }
  wake(kWakeReload);
}

void Worker::applyReload() {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<metrics::RouteMetrics> route_metrics;
  TlsContexts tls;
  {
    std::lock_guard lock(reload_mutex_);
    config = std::move(pending_config_);
    route_metrics = std::move(pending_metrics_);
    tls = std::move(pending_tls_);
  }
  if (!config) return;
  // Sessions took their SSL from the old contexts; each SSL holds what it still needs (its SSL_CTX by reference,
  // its listener's TlsContext while choosing by SNI), so the old ones can go now, on this thread.
  tls_.swap(tls);
  logger_.setMinLevel(config->log.level);
  context_.snapshot->retire();
  retired_.push_back(std::move(context_.snapshot));
  context_.snapshot = std::make_shared<ConfigSnapshot>(std::move(config), std::move(route_metrics), sourceFactory());
  if (!evtimer_pending(sweep_timer_.get(), nullptr)) evtimer_add(sweep_timer_.get(), &kSweepInterval);
}

ConfigSnapshot::SourceFactory Worker::sourceFactory() {
  return [this](const config::Upstream& upstream, metrics::UpstreamCounters* counters) {
    if (upstream.protocol != config::Upstream::Protocol::Http1) {
      auto pool = std::make_unique<upstream::Http2UpstreamPool>(upstream, base_.get(), deleter_, &io_);
      if (counters) pool->setCounters(counters);
      pool->setLogger(&logger_);
      return std::unique_ptr<upstream::UpstreamSource>(std::move(pool));
    }
    auto pool = std::make_unique<upstream::UpstreamPool>(upstream, base_.get(), deleter_, &io_);
    if (counters) pool->setCounters(counters);
    pool->setLogger(&logger_);
    return std::unique_ptr<upstream::UpstreamSource>(std::move(pool));
  };
}

void Worker::onSweep(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->sweepRetired(); }

// Frees the snapshots no exchange holds any more. From a timer, so never inside one of their pools' callbacks.
void Worker::sweepRetired() {
  std::erase_if(retired_, [](const std::shared_ptr<ConfigSnapshot>& snapshot) { return snapshot.use_count() == 1; });
  if (!retired_.empty()) evtimer_add(sweep_timer_.get(), &kSweepInterval);
}

void Worker::drainListenersAndSessions() {
  // Connections the kernel completed before the listener closes carry a request the client already sent: take them
  // rather than let the close reset them.
  for (size_t i = 0; i < listeners_.size(); ++i) acceptBacklog(i);
  listeners_.clear();  // new clients go to the kernel backlog of nobody: the process is leaving
  std::vector<DownstreamSession*> open;
  open.reserve(sessions_.size());
  for (auto& [raw, owned] : sessions_) open.push_back(raw);
  for (auto* session : open) session->drain();
}

void Worker::acceptBacklog(size_t listener) {
  if (!listeners_[listener].listener) return;
  const evutil_socket_t fd = evconnlistener_get_fd(listeners_[listener].listener.get());
  for (;;) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int client = accept4(fd, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;  // EAGAIN: the backlog is empty
    accept(listener, client, reinterpret_cast<sockaddr*>(&address), static_cast<int>(length));
  }
}

void Worker::stopLoop() {
  listeners_.clear();
  shutdownSessions();
  // Not loopbreak: the callbacks the shutdown made active (an HTTP/2 upstream connection's flush of the
  // RST_STREAM(CANCEL)s just submitted) run first, and the loop turns once more for the writes they queued.
  event_base_loopexit(base_.get(), nullptr);
}

void Worker::shutdownSessions() {
  std::vector<DownstreamSession*> open;
  open.reserve(sessions_.size());
  for (auto& [raw, owned] : sessions_) open.push_back(raw);
  for (auto* session : open) session->shutdown(Outcome::Shutdown);
  std::vector<Exchange*> running;
  for (auto& [raw, owned] : detached_) running.push_back(raw);
  for (auto* exchange : running) exchange->cancel(Outcome::Shutdown);
  deleter_.flush();
}

void Worker::adopt(std::unique_ptr<Exchange> exchange) {
  Exchange* raw = exchange.get();
  detached_.emplace(raw, std::move(exchange));
}

void Worker::release(Exchange& exchange) {
  auto it = detached_.find(&exchange);
  if (it == detached_.end()) return;
  deleter_.defer(std::move(it->second));
  detached_.erase(it);
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length, void* arg) {
  auto* pair = static_cast<std::pair<Worker*, size_t>*>(arg);
  pair->first->accept(pair->second, fd, address, length);
}

void Worker::accept(size_t listener, evutil_socket_t fd, sockaddr* address, int length) {
  auto& state = listeners_[listener];
  auto client = net::SocketAddress::fromSockaddr(address, static_cast<socklen_t>(length));
  auto session = std::make_unique<DownstreamSession>(*this, listener, fd, client);
  DownstreamSession* raw = session.get();
  sessions_.emplace(raw, std::move(session));
  metrics_.onDownstreamOpened(config_->listeners[listener].tls ? metrics::Scheme::Https : metrics::Scheme::Http);
  if (++state.open >= state.max_connections && !state.paused) {
    // At the limit, stop accepting on this worker; the kernel queues (or another worker takes) new clients.
    state.paused = true;
    evconnlistener_disable(state.listener.get());
  }
  raw->start();
}

void Worker::onSessionClosed(DownstreamSession& session) {
  auto it = sessions_.find(&session);
  if (it == sessions_.end()) return;
  const size_t listener = session.listener();
  deleter_.defer(std::move(it->second));
  sessions_.erase(it);
  // Counted even after the drain closed the listeners: the drain waits for this gauge to reach zero.
  metrics_.onDownstreamClosed(config_->listeners[listener].tls ? metrics::Scheme::Https : metrics::Scheme::Http);
  if (listener < listeners_.size()) {
    auto& state = listeners_[listener];
    --state.open;
    if (state.paused && state.open < state.max_connections && state.listener) {
      state.paused = false;
      evconnlistener_enable(state.listener.get());
    }
  }
}

}  // namespace tether
