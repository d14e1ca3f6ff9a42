#include "upstream/upstream_pool.h"

#include <iterator>

namespace tether::upstream {

UpstreamPool::UpstreamPool(const config::Upstream& upstream, event_base* base, util::DeferredDeleter& deleter,
                           net::IoContext* io)
    : config_(upstream),
      base_(base),
      deleter_(deleter),
      rotation_(upstream),
      endpoints_(upstream.endpoints.size()),
      waiters_(base, upstream.queue_timeout),
      tls_(upstream, {"http/1.1"}, base, io) {}

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
  // Room: an idle connection, or below the cap.
  return rotation_.pick(exclude, [this](size_t index) {
    const auto& e = endpoints_[index];
    return e.open < config_.max_connections_per_endpoint || !e.idle.empty();
  });
}

AcquireHandle UpstreamPool::acquire(UpstreamRequester& requester) {
  cancel(requester);
  requester.attempts_ = 0;
  AcquireHandle handle = newHandle(requester);
  int endpoint = pickEndpoint(-1);
  if (endpoint < 0) {
    waiters_.add(requester);
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
  const auto& address = rotation_.nextAddress(endpoint);
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
  if (WaitingLine::contains(requester)) waiters_.remove(requester);
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
  rotation_.markConnected(connection.endpoint());
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
  rotation_.markFailed(failed_endpoint);
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
  waiters_.serveInOrder([this] { return pickEndpoint(-1); },
                        [this](UpstreamRequester& requester, size_t endpoint) { serve(requester, endpoint); });
}

}  // namespace tether::upstream
