#include "upstream/upstream_pool.h"

#include <algorithm>

namespace tether::upstream {

UpstreamPool::UpstreamPool(const config::Upstream& upstream, event_base* base, util::DeferredDeleter& deleter,
                           net::IoContext* io)
    : config_(upstream),
      base_(base),
      deleter_(deleter),
      queue_timer_(evtimer_new(base, &UpstreamPool::onQueueTimer, this)),
      tls_(upstream, {"http/1.1"}, base, io) {
  endpoints_.resize(upstream.endpoints.size());
  for (size_t i = 0; i < endpoints_.size(); ++i) endpoints_[i].addresses = upstream.endpoints[i].addresses;
}

UpstreamPool::~UpstreamPool() {
  // Requesters still connecting read as answered from now on: a handle that outlives the pool stays a no-op.
  for (auto& [connection, requester] : connection_requesters_) requester->connecting_ = nullptr;
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

AcquireHandle UpstreamPool::acquire(UpstreamRequester& requester) {
  cancel(requester);
  requester.attempts_ = 0;
  AcquireHandle handle = newHandle(requester);
  int endpoint = pickEndpoint(-1);
  if (endpoint < 0) {
    requester.queued_at_ = std::chrono::steady_clock::now();
    waiters_.pushBack(requester);
    if (waiters_.size() == 1) armQueueTimer();
    return handle;
  }
  serve(requester, static_cast<size_t>(endpoint));
  return handle;
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
  auto owned = std::make_unique<UpstreamConnection>(*this, endpoint, base_, address);
  UpstreamConnection* connection = owned.get();
  connections_.emplace(connection, std::move(owned));
  ++state.open;
  ++requester.attempts_;
  requester.connecting_ = connection;
  connection_requesters_[connection] = &requester;
  publish();
  if (!tls_.ready(connection->addressText()) || !connection->connect(config_.connect_timeout, tls_)) {
    onConnectFailed(*connection, UpstreamError::ConnectRefused);
  }
}

bool UpstreamPool::pending(const UpstreamRequester& requester) const {
  return requester.queued_ || requester.connecting_ != nullptr;
}

void UpstreamPool::cancel(UpstreamRequester& requester) {
  if (WaiterQueue::contains(requester)) {
    waiters_.remove(requester);  // O(1); the timer, if it was due for this one, re-arms itself when it fires
    if (waiters_.empty()) evtimer_del(queue_timer_.get());
  }
  if (UpstreamConnection* connection = requester.connecting_) {
    requester.connecting_ = nullptr;
    connection_requesters_.erase(connection);
    destroy(*connection, true);
    serveWaiters();  // the slot that connect held is free
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

void UpstreamPool::onTlsFailed(UpstreamConnection& connection, std::string_view reason) {
  tls_.logFailure(connection.addressText(), reason);
  onConnectFailed(connection, UpstreamError::ConnectRefused);
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
    serve(waiters_.popFront(), static_cast<size_t>(endpoint));
  }
  evtimer_del(queue_timer_.get());
}

void UpstreamPool::expireWaiters() {
  const auto now = std::chrono::steady_clock::now();
  // FIFO with one timeout: the waiters due are a prefix of the queue. A callback may change the queue; re-read it.
  while (!waiters_.empty() && waiters_.front().queued_at_ + config_.queue_timeout <= now) {
    waiters_.popFront().onUpstreamUnavailable(UpstreamError::QueueTimeout);
  }
  armQueueTimer();
}

void UpstreamPool::armQueueTimer() {
  if (waiters_.empty()) {
    evtimer_del(queue_timer_.get());
    return;
  }
  const auto left = waiters_.front().queued_at_ + config_.queue_timeout - std::chrono::steady_clock::now();
  const auto micros = std::max<int64_t>(0, std::chrono::ceil<std::chrono::microseconds>(left).count());
  timeval tv{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
  evtimer_add(queue_timer_.get(), &tv);
}

void UpstreamPool::onQueueTimer(evutil_socket_t, short, void* arg) { static_cast<UpstreamPool*>(arg)->expireWaiters(); }

}  // namespace tether::upstream
