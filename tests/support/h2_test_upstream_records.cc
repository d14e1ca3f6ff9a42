// H2TestUpstream's records: written on the server thread, read and waited on by the test thread.

#include <algorithm>

#include "support/h2_test_upstream.h"

namespace tether::testing {

H2StreamRecord* H2TestUpstream::findStream(int connection, int32_t stream_id) {
  const auto it = streams_.find({connection, stream_id});
  return it == streams_.end() ? nullptr : &it->second;
}

void H2TestUpstream::recordStreamOpened(const H2Request& request) {
  std::lock_guard lock(mu_);
  const StreamKey key{request.connection, request.stream_id};
  streams_[key].request = request;
  stream_order_.push_back(key);
  changed_.notify_all();
}

void H2TestUpstream::recordBody(int connection, int32_t stream_id, std::string_view data) {
  std::lock_guard lock(mu_);
  H2StreamRecord* stream = findStream(connection, stream_id);
  if (stream == nullptr) return;
  H2Request& request = stream->request;
  request.body_bytes += data.size();
  const size_t room = H2Request::kMaxKeptBody - std::min(H2Request::kMaxKeptBody, request.body.size());
  request.body.append(data.substr(0, room));
  changed_.notify_all();
}

void H2TestUpstream::recordRequest(const H2Request& request) {
  std::lock_guard lock(mu_);
  if (H2StreamRecord* stream = findStream(request.connection, request.stream_id)) {
    stream->request = request;
    stream->request_complete = true;
  }
  requests_.push_back(request);
  changed_.notify_all();
}

void H2TestUpstream::recordResponseComplete(int connection, int32_t stream_id) {
  std::lock_guard lock(mu_);
  if (H2StreamRecord* stream = findStream(connection, stream_id)) stream->response_complete = true;
  changed_.notify_all();
}

void H2TestUpstream::recordStreamClosed(int connection, int32_t stream_id, uint32_t code) {
  std::lock_guard lock(mu_);
  H2StreamRecord* stream = findStream(connection, stream_id);
  if (stream == nullptr || stream->closed) return;
  stream->closed = true;
  stream->close_code = code;
  ++closed_streams_;
  if (stream->endedNormally()) ++ended_normally_;
  changed_.notify_all();
}

void H2TestUpstream::recordResetSent(int connection, int32_t stream_id, uint32_t code) {
  std::lock_guard lock(mu_);
  if (H2StreamRecord* stream = findStream(connection, stream_id)) stream->reset_sent = code;
  changed_.notify_all();
}

void H2TestUpstream::recordResetReceived(int connection, int32_t stream_id, uint32_t code) {
  std::lock_guard lock(mu_);
  if (H2StreamRecord* stream = findStream(connection, stream_id)) stream->reset_received = code;
  ++connections_[connection].resets_received;
  resets_.push_back({connection, stream_id, code});
  changed_.notify_all();
}

void H2TestUpstream::recordGoawayReceived(int connection, int32_t last_stream_id, uint32_t code) {
  std::lock_guard lock(mu_);
  const H2GoawayRecord goaway{connection, last_stream_id, code};
  connections_[connection].goaway_received = goaway;
  goaways_.push_back(goaway);
  changed_.notify_all();
}

void H2TestUpstream::recordGoawaySent(int connection, uint32_t code) {
  std::lock_guard lock(mu_);
  connections_[connection].goaway_sent = code;
  changed_.notify_all();
}

void H2TestUpstream::recordPing(int connection) {
  std::lock_guard lock(mu_);
  ++connections_[connection].pings;
  ++pings_;
  changed_.notify_all();
}

void H2TestUpstream::recordSettings(int connection, std::vector<std::pair<int32_t, uint32_t>> settings) {
  std::lock_guard lock(mu_);
  auto& all = connections_[connection].settings;
  all.insert(all.end(), settings.begin(), settings.end());
  changed_.notify_all();
}

void H2TestUpstream::recordConnectionClosed(int connection) {
  std::lock_guard lock(mu_);
  connections_[connection].open = false;
  ++closed_connections_;
  changed_.notify_all();
}

int H2TestUpstream::acceptedConnections() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

int H2TestUpstream::openConnections() const {
  std::lock_guard lock(mu_);
  return accepted_ - closed_connections_;
}

std::vector<H2ConnectionRecord> H2TestUpstream::connections() const {
  std::lock_guard lock(mu_);
  std::vector<H2ConnectionRecord> out;
  for (const auto& [id, record] : connections_) out.push_back(record);
  return out;
}

std::optional<H2ConnectionRecord> H2TestUpstream::connection(int id) const {
  std::lock_guard lock(mu_);
  const auto it = connections_.find(id);
  if (it == connections_.end()) return std::nullopt;
  return it->second;
}

std::vector<H2StreamRecord> H2TestUpstream::streams() const {
  std::lock_guard lock(mu_);
  std::vector<H2StreamRecord> out;
  for (const auto& key : stream_order_) out.push_back(streams_.at(key));
  return out;
}

std::optional<H2StreamRecord> H2TestUpstream::stream(int connection, int32_t stream_id) const {
  std::lock_guard lock(mu_);
  const auto it = streams_.find({connection, stream_id});
  if (it == streams_.end()) return std::nullopt;
  return it->second;
}

std::vector<H2Request> H2TestUpstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<H2ResetRecord> H2TestUpstream::resetsReceived() const {
  std::lock_guard lock(mu_);
  return resets_;
}

std::vector<H2GoawayRecord> H2TestUpstream::goawaysReceived() const {
  std::lock_guard lock(mu_);
  return goaways_;
}

int H2TestUpstream::pingsReceived() const {
  std::lock_guard lock(mu_);
  return pings_;
}

int H2TestUpstream::streamsEndedNormally() const {
  std::lock_guard lock(mu_);
  return ended_normally_;
}

// `count` runs with mu_ held.
bool H2TestUpstream::waitCount(const std::function<int()>& count, int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return count() >= n; });
}

bool H2TestUpstream::waitForConnections(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return accepted_; }, n, timeout);
}

bool H2TestUpstream::waitForClosedConnections(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return closed_connections_; }, n, timeout);
}

bool H2TestUpstream::waitForStreams(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return static_cast<int>(stream_order_.size()); }, n, timeout);
}

bool H2TestUpstream::waitForRequests(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return static_cast<int>(requests_.size()); }, n, timeout);
}

bool H2TestUpstream::waitForResets(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return static_cast<int>(resets_.size()); }, n, timeout);
}

bool H2TestUpstream::waitForClosedStreams(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return closed_streams_; }, n, timeout);
}

bool H2TestUpstream::waitForEndedNormally(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return ended_normally_; }, n, timeout);
}

bool H2TestUpstream::waitForGoaways(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return static_cast<int>(goaways_.size()); }, n, timeout);
}

bool H2TestUpstream::waitForPings(int n, std::chrono::milliseconds timeout) const {
  return waitCount([this] { return pings_; }, n, timeout);
}

bool H2TestUpstream::waitForStreamClosed(int connection, int32_t stream_id, std::chrono::milliseconds timeout) const {
  const StreamKey key{connection, stream_id};
  return waitCount([&] { return streams_.contains(key) && streams_.at(key).closed ? 1 : 0; }, 1, timeout);
}

}  // namespace tether::testing
