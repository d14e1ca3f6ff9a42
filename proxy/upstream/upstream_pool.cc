#include "upstream/upstream_pool.h"

#include <algorithm>

namespace tether::upstream {

UpstreamPool::UpstreamPool(const config::Upstream& upstream, event_base* base, util::DeferredDeleter& deleter,
                           net::IoContext* io)
    : config_(upstream),
      base_(base),
      io_(io),
      deleter_(deleter),
      queue_timer_(event_new(base, -1, EV_PERSIST, &UpstreamPool::onQueueTimer, this)) {
  endpoints_.resize(upstream.endpoints.size());
  for (size_t i = 0; i < endpoints_.size(); ++i) endpoints_[i].addresses = upstream.endpoints[i].addresses;
}

UpstreamPool::~UpstreamPool() {
  for (auto& [raw, owned] : connections_) owned->close(false);
}

size_t UpstreamPool::idleCount() const {
  size_t n = 0;
  for (const auto& e : endpoints_) n += e.idle.size();
  return n;
}

int UpstreamPool::pickEndpoint(int exclude) {
  const auto now = std::chrono::steady_clock::now();
  const size_t n = endpoints_.size();
  int fallback = -1;  // a backed-off endpoint is still better than failing outright
  for (size_t i = 0; i < n; ++i) {
    size_t index = (round_robin_ + i) % n;
    auto& e = endpoints_[index];
    if (static_cast<int>(index) == exclude || e.addresses.empty()) continue;
    if (e.open >= config_.max_connections_per_endpoint && e.idle.empty()) continue;
    if (e.backoff_until > now) {
      if (fallback < 0) fallback = static_cast<int>(index);
      continue;
    }
    round_robin_ = index + 1;
    return static_cast<int>(index);
  }
  if (fallback >= 0 && exclude < 0) round_robin_ = static_cast<size_t>(fallback) + 1;
  return exclude < 0 ? fallback : -1;
}

void UpstreamPool::acquire(UpstreamRequester& requester) {
  requester.attempts_ = 0;
  int endpoint = pickEndpoint(-1);
  if (endpoint < 0) {
    requester.queued_ = true;
    requester.queued_at_ = std::chrono::steady_clock::now();
    waiters_.push_back(&requester);
    if (!event_pending(queue_timer_.get(), EV_TIMEOUT, nullptr)) {
      timeval tv{0, 100 * 1000};
      event_add(queue_timer_.get(), &tv);
    }
    return;
  }
  serve(requester, static_cast<size_t>(endpoint));
}

void UpstreamPool::serve(UpstreamRequester& requester, size_t endpoint) {
  auto& state = endpoints_[endpoint];
  if (state.idle.empty()) {
    startConnect(requester, endpoint);
    return;
  }
  // Most recently used first: it is the least likely to have been closed by the upstream's idle timer.
  UpstreamConnection* connection = state.idle.back();
  state.idle.pop_back();
  connection->becomeActive();
  publish();
  requester.onUpstreamReady(*connection);
}

void UpstreamPool::startConnect(UpstreamRequester& requester, size_t endpoint) {
  auto& state = endpoints_[endpoint];
  const auto& address = state.addresses[state.next_address++ % state.addresses.size()];
  auto owned = std::make_unique<UpstreamConnection>(*this, endpoint, base_, address, io_);
  UpstreamConnection* connection = owned.get();
  connections_.emplace(connection, std::move(owned));
  ++state.open;
  ++requester.attempts_;
  requester.connecting_ = connection;
  connection_requesters_[connection] = &requester;
  publish();
  if (!connection->connect(config_.connect_timeout)) onConnectFailed(*connection, UpstreamError::ConnectRefused);
}

void UpstreamPool::cancel(UpstreamRequester& requester) {
  if (requester.queued_) {
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), &requester), waiters_.end());
    requester.queued_ = false;
  }
  if (UpstreamConnection* connection = requester.connecting_) {
    requester.connecting_ = nullptr;
    connection_requesters_.erase(connection);
    destroy(*connection, true);
  }
}

void UpstreamPool::onConnected(UpstreamConnection& connection) {
  auto it = connection_requesters_.find(&connection);
  UpstreamRequester* requester = it == connection_requesters_.end() ? nullptr : it->second;
  if (it != connection_requesters_.end()) connection_requesters_.erase(it);
  endpoints_[connection.endpoint()].backoff_until = {};
  connection.becomeActive();
  publish();
  if (!requester) {
    release(connection, Release::Reuse);
    return;
  }
  requester->connecting_ = nullptr;
  requester->onUpstreamReady(connection);
}

void UpstreamPool::onConnectFailed(UpstreamConnection& connection, UpstreamError error) {
  auto it = connection_requesters_.find(&connection);
  UpstreamRequester* requester = it == connection_requesters_.end() ? nullptr : it->second;
  if (it != connection_requesters_.end()) connection_requesters_.erase(it);
  const size_t failed_endpoint = connection.endpoint();
  if (counters_)
    counters_->connect_errors.store(counters_->connect_errors.load(std::memory_order_relaxed) + 1,
                                    std::memory_order_relaxed);  // single writer: no RMW needed
  endpoints_[failed_endpoint].backoff_until = std::chrono::steady_clock::now() + config_.failure_backoff;
  destroy(connection, false);
  if (!requester) return;
  requester->connecting_ = nullptr;
  // Nothing was sent yet, so one retry on another endpoint is always safe.
  if (requester->attempts_ < 2) {
    int next = pickEndpoint(static_cast<int>(failed_endpoint));
    if (next >= 0) {
      startConnect(*requester, static_cast<size_t>(next));
      return;
    }
  }
  requester->onUpstreamUnavailable(error);
}

void UpstreamPool::release(UpstreamConnection& connection, Release how) {
  auto& state = endpoints_[connection.endpoint()];
  // Beyond the idle cap a burst's connections are closed as they free up rather than held for the idle timeout.
  if (how == Release::Reuse && connection.reusable() && !retired_ &&
      state.idle.size() < config_.max_idle_connections_per_endpoint) {
    connection.becomeIdle(config_.keepalive_idle_timeout);
    state.idle.push_back(&connection);
    connection.idle_position_ = std::prev(state.idle.end());
    publish();
    serveWaiters();
    return;
  }
  const bool reset = how == Release::Abort && config_.cancel_with == config::Upstream::CancelWith::Rst;
  destroy(connection, reset);
  serveWaiters();
}

void UpstreamPool::retire() {
  retired_ = true;
  std::vector<UpstreamConnection*> idle;
  for (const auto& e : endpoints_) idle.insert(idle.end(), e.idle.begin(), e.idle.end());
  for (UpstreamConnection* connection : idle) destroy(*connection, false);
}

void UpstreamPool::onIdleClosed(UpstreamConnection& connection) {
  destroy(connection, false);
  serveWaiters();
}

void UpstreamPool::destroy(UpstreamConnection& connection, bool reset) {
  auto it = connections_.find(&connection);
  if (it == connections_.end()) return;
  auto& state = endpoints_[connection.endpoint()];
  if (connection.state() == UpstreamConnection::State::Idle) state.idle.erase(connection.idle_position_);
  --state.open;
  connection.close(reset);
  deleter_.defer(std::move(it->second));
  connections_.erase(it);
  publish();
}

void UpstreamPool::publish() {
  if (!counters_) return;
  const size_t connecting = connection_requesters_.size();  // a connect in progress always has its requester
  const size_t idle = idleCount();
  const size_t total = connections_.size();
  counters_->connecting.store(connecting, std::memory_order_relaxed);
  counters_->idle.store(idle, std::memory_order_relaxed);
  counters_->active.store(total > connecting + idle ? total - connecting - idle : 0, std::memory_order_relaxed);
}

void UpstreamPool::serveWaiters() {
  while (!waiters_.empty()) {
    int endpoint = pickEndpoint(-1);
    if (endpoint < 0) return;
    UpstreamRequester* requester = waiters_.front();
    waiters_.pop_front();
    requester->queued_ = false;
    serve(*requester, static_cast<size_t>(endpoint));
  }
  event_del(queue_timer_.get());
}

void UpstreamPool::onQueueTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<UpstreamPool*>(arg);
  const auto deadline = std::chrono::steady_clock::now() - self->config_.connect_timeout;
  while (!self->waiters_.empty() && self->waiters_.front()->queued_at_ <= deadline) {
    UpstreamRequester* requester = self->waiters_.front();
    self->waiters_.pop_front();
    requester->queued_ = false;
    requester->onUpstreamUnavailable(UpstreamError::QueueTimeout);
  }
  if (self->waiters_.empty()) event_del(self->queue_timer_.get());
}

}  // namespace tether::upstream
