#include "upstream/http2_upstream_pool.h"

#include <algorithm>

namespace tether::upstream {

Http2UpstreamPool::Http2UpstreamPool(const config::Upstream& upstream, event_base* base, util::DeferredDeleter& deleter,
                                     net::IoContext* io)
    : config_(upstream),
      base_(base),
      deleter_(deleter),
      rotation_(upstream),
      endpoints_(upstream.endpoints.size()),
      waiters_(base, upstream.queue_timeout),
      tls_(upstream, {"h2"}, base, io) {}

Http2UpstreamPool::~Http2UpstreamPool() {
  for (auto& [raw, owned] : connections_) {
    // Requesters waiting for a connect read as answered from now on: a handle that outlives the pool is a no-op.
    while (!owned->waiters().empty()) owned->waiters().popFront().h2_connecting_ = nullptr;
    owned->close();
  }
  connections_.clear();  // before the streams they may point to
}

Http2UpstreamConnection* Http2UpstreamPool::usable(size_t endpoint) const {
  Http2UpstreamConnection* best = nullptr;
  Http2UpstreamConnection* connecting = nullptr;
  for (Http2UpstreamConnection* connection : endpoints_[endpoint].connections) {
    // The busiest connection with room: streams pack onto few connections and the spare ones go idle.
    if (connection->hasRoom() && (!best || connection->streamCount() > best->streamCount())) best = connection;
    if (connection->state() == Http2UpstreamConnection::State::Connecting &&
        connection->waiters().size() + connection->streamCount() < Http2UpstreamConnection::kMaxStreams) {
      connecting = connection;
    }
  }
  return best ? best : connecting;
}

bool Http2UpstreamPool::tooManyIdle(size_t endpoint) const {
  const auto& connections = endpoints_[endpoint].connections;
  const auto idle = std::count_if(connections.begin(), connections.end(),
                                  [](const Http2UpstreamConnection* connection) { return connection->idle(); });
  return static_cast<size_t>(idle) > config_.max_idle_connections_per_endpoint;
}

bool Http2UpstreamPool::canOpen(size_t endpoint) const {
  return endpoints_[endpoint].connections.size() < config_.max_connections_per_endpoint;
}

int Http2UpstreamPool::pickEndpoint(int exclude) {
  return rotation_.pick(exclude, [this](size_t index) { return usable(index) != nullptr || canOpen(index); });
}

AcquireHandle Http2UpstreamPool::acquire(UpstreamRequester& requester) {
  cancel(requester);
  requester.attempts_ = 0;
  AcquireHandle handle = newHandle(requester);
  const int endpoint = pickEndpoint(-1);
  if (endpoint < 0) {
    waiters_.add(requester);
    return handle;
  }
  serve(requester, static_cast<size_t>(endpoint));
  return handle;
}

void Http2UpstreamPool::serve(UpstreamRequester& requester, size_t endpoint) {
  Http2UpstreamConnection* connection = usable(endpoint);
  if (connection == nullptr) connection = startConnect(endpoint);
  ++requester.attempts_;
  if (connection == nullptr) {  // no socket at all
    requester.onUpstreamUnavailable(UpstreamError::ConnectRefused);
    return;
  }
  if (connection->state() == Http2UpstreamConnection::State::Connecting) {
    requester.h2_connecting_ = connection;
    connection->waiters().pushBack(requester);
    return;
  }
  handStream(requester, *connection);
}

void Http2UpstreamPool::handStream(UpstreamRequester& requester, Http2UpstreamConnection& connection) {
  Http2UpstreamStream& stream = newStream(connection);
  connection.attach(stream);
  publish();
  requester.onUpstreamReady(stream);
}

Http2UpstreamStream& Http2UpstreamPool::newStream(Http2UpstreamConnection& connection) {
  Http2UpstreamStream* stream = nullptr;
  if (free_streams_.empty()) {
    stream = streams_.emplace_back(std::make_unique<Http2UpstreamStream>()).get();
  } else {
    stream = free_streams_.back();
    free_streams_.pop_back();
  }
  stream->bind(*this, connection);
  return *stream;
}

Http2UpstreamConnection* Http2UpstreamPool::startConnect(size_t endpoint) {
  auto& state = endpoints_[endpoint];
  const auto& address = rotation_.nextAddress(endpoint);
  auto owned = std::make_unique<Http2UpstreamConnection>(*this, endpoint, base_, address, config_);
  Http2UpstreamConnection* connection = owned.get();
  if (!tls_.ready(connection->addressText()) || !connection->connect(tls_)) {
    if (counters_) counters_->connect_errors.store(counters_->connect_errors.load() + 1, std::memory_order_relaxed);
    rotation_.markFailed(endpoint);
    connection->close();
    deleter_.defer(std::move(owned));
    return nullptr;
  }
  connections_.emplace(connection, std::move(owned));
  state.connections.push_back(connection);
  publish();
  return connection;
}

bool Http2UpstreamPool::pending(const UpstreamRequester& requester) const {
  return requester.queued_ || requester.h2_connecting_ != nullptr;
}

void Http2UpstreamPool::cancel(UpstreamRequester& requester) {
  if (Http2UpstreamConnection* connection = requester.h2_connecting_) {
    // The connect goes on: the connection it opens serves later requests.
    requester.h2_connecting_ = nullptr;
    connection->waiters().remove(requester);
    return;
  }
  if (WaitingLine::contains(requester)) waiters_.remove(requester);
}

void Http2UpstreamPool::onConnected(Http2UpstreamConnection& connection) {
  rotation_.markConnected(connection.endpoint());
  // A callback may cancel later waiters (their exchange ends): re-read the queue each time.
  while (!connection.waiters().empty() && connection.hasRoom()) {
    UpstreamRequester& requester = connection.waiters().popFront();
    requester.h2_connecting_ = nullptr;
    handStream(requester, connection);
  }
  // Beyond the server's limit: back to the front of the line on another connection, or the pool's queue.
  while (!connection.waiters().empty()) {
    UpstreamRequester& requester = connection.waiters().popFront();
    requester.h2_connecting_ = nullptr;
    const int endpoint = pickEndpoint(-1);
    if (endpoint < 0) {
      waiters_.add(requester);
    } else {
      serve(requester, static_cast<size_t>(endpoint));
    }
  }
  publish();
  serveWaiters();
}

void Http2UpstreamPool::onConnectFailed(Http2UpstreamConnection& connection, UpstreamError error) {
  const size_t failed_endpoint = connection.endpoint();
  if (counters_) counters_->connect_errors.store(counters_->connect_errors.load() + 1, std::memory_order_relaxed);
  rotation_.markFailed(failed_endpoint);
  // Move the waiters out first: their callbacks may acquire again, and this connection is going away.
  WaiterQueue failed;
  while (!connection.waiters().empty()) {
    UpstreamRequester& requester = connection.waiters().popFront();
    requester.h2_connecting_ = nullptr;
    failed.pushBack(requester);
  }
  destroy(connection);  // streams parked for a retry fail with it
  while (!failed.empty()) {
    UpstreamRequester& requester = failed.popFront();
    // Nothing was sent yet: one retry on another endpoint is always safe.
    const int next = requester.attempts_ < 2 ? pickEndpoint(static_cast<int>(failed_endpoint)) : -1;
    if (next >= 0) {
      serve(requester, static_cast<size_t>(next));
    } else {
      requester.onUpstreamUnavailable(error);
    }
  }
  serveWaiters();
}

void Http2UpstreamPool::onTlsFailed(Http2UpstreamConnection& connection, std::string_view reason) {
  tls_.logFailure(connection.addressText(), reason);
  onConnectFailed(connection, UpstreamError::ConnectRefused);
}

void Http2UpstreamPool::onClosed(Http2UpstreamConnection& connection) {
  destroy(connection);
  serveWaiters();
}

void Http2UpstreamPool::retry(Http2UpstreamStream& stream) {
  // Another connection of the same endpoint first, else any endpoint that can take it now.
  const size_t endpoint = stream.connection() ? stream.connection()->endpoint() : 0;
  Http2UpstreamConnection* connection = usable(endpoint);
  if (connection == nullptr && canOpen(endpoint)) connection = startConnect(endpoint);
  if (connection == nullptr) {
    const int other = pickEndpoint(-1);
    if (other >= 0) {
      connection = usable(static_cast<size_t>(other));
      if (connection == nullptr) connection = startConnect(static_cast<size_t>(other));
    }
  }
  if (connection == nullptr) {
    stream.failDetached(UpstreamError::ConnectionLost);
    return;
  }
  stream.moveTo(*connection);
  connection->attach(stream);
  publish();
}

void Http2UpstreamPool::onResetBudgetExceeded(const Http2UpstreamConnection& connection, size_t resets) {
  if (counters_) metrics::UpstreamCounters::bump(counters_->reset_budget_exceeded);
  if (logger_ == nullptr || !logger_->enabled(log::Level::Warn)) return;
  logger_->line("upstream_reset_budget", log::Level::Warn)
      .field("upstream", std::string_view(config_.name))
      .field("endpoint", std::string_view(connection.addressText()))
      .field("resets", static_cast<uint64_t>(resets))
      .field("window_ms", static_cast<int64_t>(config_.reset_window.count()));
  logger_->emit();
}

void Http2UpstreamPool::retire() {
  retired_ = true;
  std::vector<Http2UpstreamConnection*> all;
  for (const auto& [raw, owned] : connections_) all.push_back(raw);
  for (Http2UpstreamConnection* connection : all) connection->drain();
}

void Http2UpstreamPool::destroy(Http2UpstreamConnection& connection) {
  if (!connections_.contains(&connection)) return;
  std::erase(endpoints_[connection.endpoint()].connections, &connection);
  // Waiters of a connection that closes before connecting (retired, say) go back to the pool's queue.
  while (!connection.waiters().empty()) {
    UpstreamRequester& requester = connection.waiters().popFront();
    requester.h2_connecting_ = nullptr;
    waiters_.add(requester);
  }
  connection.failStreams();  // callbacks may open connections: find ours again afterwards
  auto it = connections_.find(&connection);
  deleter_.defer(std::move(it->second));
  connections_.erase(it);
  publish();
}

void Http2UpstreamPool::publish() {
  if (!counters_) return;
  uint64_t connecting = 0;
  uint64_t idle = 0;
  for (const auto& [raw, owned] : connections_) {
    if (raw->state() == Http2UpstreamConnection::State::Connecting) ++connecting;
    if (raw->idle()) ++idle;
  }
  const uint64_t total = connections_.size();
  counters_->connecting.store(connecting, std::memory_order_relaxed);
  counters_->idle.store(idle, std::memory_order_relaxed);
  counters_->active.store(total - connecting - idle, std::memory_order_relaxed);
}

void Http2UpstreamPool::serveWaiters() {
  waiters_.serveInOrder([this] { return pickEndpoint(-1); },
                        [this](UpstreamRequester& requester, size_t endpoint) { serve(requester, endpoint); });
}

}  // namespace tether::upstream
