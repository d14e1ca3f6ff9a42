#include "downstream/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "downstream/http2_stream.h"
#include "downstream/session_host.h"

namespace tether {
namespace {

// Frames are serialized into the socket's output buffer up to this many bytes; the rest waits in the streams'
// own buffers (bounded by the exchange's watermark) until the client reads.
constexpr size_t kOutputHigh = 128 * 1024;
constexpr size_t kOutputLow = 64 * 1024;
// Drain: how long the final GOAWAY waits for the client's PING ack (one round trip, generously).
constexpr std::chrono::milliseconds kPingWait{1000};
http2::ServerSettings settingsFrom(const config::Http2Limits& limits) {
  http2::ServerSettings settings;
  settings.max_concurrent_streams = limits.max_concurrent_streams;
  settings.initial_window_size = static_cast<uint32_t>(limits.initial_window_size);  // validated <= 2^31-1
  settings.max_header_list_size = static_cast<uint32_t>(std::min<size_t>(limits.max_header_list_size, UINT32_MAX));
  // nghttp2's own RST_STREAM limiter is only a backstop, well above tether's bucket (see noteEarlyReset).
  settings.reset_burst = std::max<uint64_t>(1000, 4 * uint64_t{limits.reset_budget});
  settings.reset_rate = std::max<uint64_t>(33, 4 * uint64_t{limits.reset_rate});
  return settings;
}

}  // namespace

Http2Session::Http2Session(SessionHost& worker, std::unique_ptr<net::Transport> transport,
                           const net::ClientEndpoint& client, std::function<void()> on_closed)
    : worker_(worker),
      client_(client),
      transport_(std::move(transport)),
      on_closed_(std::move(on_closed)),
      settings_(settingsFrom(worker.config().limits.http2)),
      reset_tokens_(worker.config().limits.http2.reset_budget, worker.config().limits.http2.reset_rate,
                    util::TokenBucket::Clock::now()),
      codec_(*this, settings_),
      flush_event_(event_new(worker.base(), -1, 0, &Http2Session::onFlush, this)),
      idle_timer_(evtimer_new(worker.base(), &Http2Session::onIdle, this)),
      head_timer_(evtimer_new(worker.base(), &Http2Session::onHeadTimeout, this)),
      send_timer_(evtimer_new(worker.base(), &Http2Session::onSendCheck, this)),
      ping_wait_(evtimer_new(worker.base(), &Http2Session::onPingWait, this)) {}

Http2Session::~Http2Session() {
  // Streams go first: their exchanges are finished or detached, and nothing may call back into a dying codec.
  streams_.clear();
}

void Http2Session::start() {
  if (transport_->secure()) protocol_ = "h2";
  if (!codec_.start()) {
    close();
    return;
  }
  transport_->setWatermarks(0, kOutputLow);
  transport_->setCallbacks(*this);
  transport_->setReading(true);
  onReadable();  // the preface and whatever followed it are already in the input buffer
}

Http2Stream* Http2Session::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Session::onReadable() {
  if (closed_) return;
  evbuffer* input = transport_->input();
  while (!closing_ && evbuffer_get_length(input) > 0) {
    evbuffer_iovec vec;
    if (evbuffer_peek(input, -1, nullptr, &vec, 1) < 1) break;
    const bool ok = codec_.receive(static_cast<const uint8_t*>(vec.iov_base), vec.iov_len);
    if (closed_) return;
    evbuffer_drain(input, vec.iov_len);
    if (!ok) {
      cancelAll(Outcome::ClientReset, NGHTTP2_PROTOCOL_ERROR);
      closing_ = true;
    }
  }
  // limits.header_read_timeout starts when a header block is left incomplete by a read, not for each stream: most
  // blocks arrive whole, and arming and disarming a timer per stream costs two trips through libevent's lock.
  if (head_pending_ != 0 && !head_armed_) {
    timeval tv = util::toTimeval(worker_.config().limits.header_read_timeout);
    evtimer_add(head_timer_.get(), &tv);
    head_armed_ = true;
  }
  if (closing_) evbuffer_drain(input, evbuffer_get_length(input));
  // Resets the codec queued for this batch (flow-control or content-length errors) go out first: they close their
  // streams, which then are never dispatched.
  if (!codec_.sendControl(transport_->output())) {
    cancelAll(Outcome::ClientReset, NGHTTP2_INTERNAL_ERROR);
    close();
    return;
  }
  if (closed_) return;
  dispatchPending();
  flush();
}

void Http2Session::dispatchPending() {
  std::vector<int32_t> ids;
  ids.swap(pending_dispatch_);
  if (closing_) return;  // GOAWAY sent: the requests behind it are not served
  for (const int32_t id : ids) {
    if (Http2Stream* stream = find(id)) stream->dispatch();
    if (closed_) return;
  }
}

void Http2Session::scheduleFlush() {
  if (!closed_) event_active(flush_event_.get(), 0, 0);
}

void Http2Session::onFlush(evutil_socket_t, short, void* arg) { static_cast<Http2Session*>(arg)->flush(); }

void Http2Session::flush() {
  if (closed_) return;
  evbuffer* output = transport_->output();
  if (!codec_.send(output, kOutputHigh)) {
    cancelAll(Outcome::ClientReset, NGHTTP2_INTERNAL_ERROR);
    close();
    return;
  }
  if (evbuffer_get_length(output) > 0) transport_->scheduleFlush();
  size_t unsent = evbuffer_get_length(output);
  for (auto& [id, stream] : streams_) {
    stream->afterFlush();
    unsent += stream->pendingOutput();
  }
  if (closed_) return;
  watchSending(unsent);
  if (!codec_.wantsRead() && !codec_.wantsWrite()) {
    closing_ = true;  // GOAWAY exchanged (or sent) and nothing left to do: close once written
    if (evbuffer_get_length(output) == 0) close();
    return;
  }
  updateIdleTimer();
}

void Http2Session::onDrained() {
  if (closed_) return;
  if (closing_ && transport_->pendingOutput() == 0 && !codec_.wantsWrite()) {
    close();
    return;
  }
  flush();  // send() may have stopped at kOutputHigh, and streams wait for room to resume
}

void Http2Session::onPeerGone(bool reset) {
  if (closed_) return;
  // EOF is the client's FIN; anything else (ECONNRESET, EPIPE) a reset.
  cancelAll(reset ? Outcome::ClientReset : Outcome::ClientClosed, NGHTTP2_NO_ERROR);
  close();
}

void Http2Session::updateIdleTimer() {
  if (!streams_.empty() || closing_) {
    disarmIdleTimer();
    return;
  }
  if (idle_armed_) return;
  timeval tv = util::toTimeval(worker_.config().limits.client_idle_timeout);
  evtimer_add(idle_timer_.get(), &tv);
  idle_armed_ = true;
}

void Http2Session::disarmIdleTimer() {
  if (!idle_armed_) return;
  evtimer_del(idle_timer_.get());
  idle_armed_ = false;
}

void Http2Session::disarmHeadTimer() {
  if (!head_armed_) return;
  evtimer_del(head_timer_.get());
  head_armed_ = false;
}

void Http2Session::onIdle(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  self->idle_armed_ = false;
  if (!self->streams_.empty()) return;
  self->codec_.terminate(NGHTTP2_NO_ERROR);
  self->closing_ = true;
  self->flush();
}

void Http2Session::cancelAll(Outcome reason, uint32_t h2_error) {
  std::vector<Http2Stream*> open;
  open.reserve(streams_.size());
  for (auto& [id, stream] : streams_) open.push_back(stream.get());
  for (Http2Stream* stream : open) stream->onClose(reason, h2_error);
}

void Http2Session::shutdown(Outcome reason) {
  cancelAll(reason, NGHTTP2_NO_ERROR);
  close();
}

void Http2Session::drain() {
  if (closed_ || closing_ || draining_) return;
  draining_ = true;
  if (!codec_.submitShutdownNotice()) codec_.terminate(NGHTTP2_INTERNAL_ERROR);
  // A client that never acknowledges the PING must not hold the drain until drain_timeout.
  timeval tv = util::toTimeval(kPingWait);
  evtimer_add(ping_wait_.get(), &tv);
  flush();
}

void Http2Session::onPingWait(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  if (self->closed_) return;
  self->onPingAck();
  self->flush();
}

void Http2Session::onPingAck() {
  if (!draining_ || final_goaway_) return;
  final_goaway_ = true;
  if (!codec_.submitFinalGoaway()) codec_.terminate(NGHTTP2_INTERNAL_ERROR);
  // Called from inside receive(): onReadable() flushes once the codec returns.
}

void Http2Session::close() {
  if (closed_) return;
  cancelAll(Outcome::ClientReset, NGHTTP2_NO_ERROR);  // a no-op when the caller already chose a reason
  closed_ = true;
  disarmIdleTimer();
  disarmHeadTimer();
  evtimer_del(send_timer_.get());
  evtimer_del(ping_wait_.get());
  event_del(flush_event_.get());
  transport_.reset();  // closes the socket now
  if (on_closed_) {
    auto on_closed = std::move(on_closed_);
    on_closed();
  }
}

void Http2Session::noteEarlyReset() {
  ++resets_before_completion_;
  // Browsers cancel a page's streams at once and a few more per second; a sustained flood is an attack.
  if (closing_ || reset_tokens_.take(util::TokenBucket::Clock::now())) return;
  if (auto* metrics = worker_.exchangeContext().metrics) metrics->onH2RapidResetGoaway();
  log::Logger& logger = *worker_.exchangeContext().logger;
  logger.line("h2_rapid_reset", config::Log::Level::Warn)
      .field("client", std::string_view(client_.text))
      .field("resets_before_completion", resets_before_completion_)
      .field("streams_opened", streams_opened_)
      .field("h2_error", "ENHANCE_YOUR_CALM");
  logger.emit();
  codec_.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
  closing_ = true;
}

void Http2Session::onStreamBegin(int32_t stream_id) {
  if (closing_) return;
  ++streams_opened_;
  streams_.emplace(stream_id, std::make_unique<Http2Stream>(*this, stream_id, worker_.headPool().acquire()));
  disarmIdleTimer();
  head_pending_ = stream_id;  // onReadable() arms the header read timeout if the block is still incomplete then
}

void Http2Session::watchSending(size_t unsent) {
  if (unsent == 0 || evtimer_pending(send_timer_.get(), nullptr)) return;
  send_progress_ = std::chrono::steady_clock::now();
  unsent_at_check_ = unsent;
  timeval tv = util::toTimeval(worker_.config().limits.send_timeout / 2);
  evtimer_add(send_timer_.get(), &tv);
}

void Http2Session::onSendCheck(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  if (self->closed_) return;
  size_t unsent = self->transport_->pendingOutput();
  for (auto& [id, stream] : self->streams_) unsent += stream->pendingOutput();
  if (unsent == 0) return;  // all taken: the next flush that leaves bytes starts watching again
  const auto now = std::chrono::steady_clock::now();
  if (unsent < self->unsent_at_check_) self->send_progress_ = now;  // the client took some
  self->unsent_at_check_ = unsent;
  const auto timeout = self->worker_.config().limits.send_timeout;
  if (now - self->send_progress_ < timeout) {
    timeval tv = util::toTimeval(timeout / 2);  // checked twice per timeout: cut between 1x and 1.5x
    evtimer_add(self->send_timer_.get(), &tv);
    return;
  }
  self->cancelAll(Outcome::SendTimeout, NGHTTP2_NO_ERROR);
  self->close();
}

void Http2Session::onHeadTimeout(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  self->head_armed_ = false;
  if (self->head_pending_ == 0 || self->closed_) return;
  self->codec_.terminate(NGHTTP2_NO_ERROR);
  self->closing_ = true;
  self->flush();
}

bool Http2Session::onHeader(int32_t stream_id, std::string_view name, std::string_view value) {
  Http2Stream* stream = find(stream_id);
  return !stream || stream->addHeader(name, value);
}

void Http2Session::onHeadersComplete(int32_t stream_id, bool trailers, bool end_stream) {
  if (!trailers && stream_id == head_pending_) {
    head_pending_ = 0;
    disarmHeadTimer();
  }
  Http2Stream* stream = find(stream_id);
  if (!stream) return;
  if (!trailers) {
    stream->onHeadEnd(end_stream);
    pending_dispatch_.push_back(stream_id);
  } else if (end_stream) {
    stream->onRequestEnd();
  }
}

void Http2Session::onData(int32_t stream_id, const uint8_t* data, size_t len) {
  // Connection credit comes back at once: each stream is held to its own window, so one slow upstream does not
  // stall the connection's other streams.
  codec_.consumeConnection(len);
  if (Http2Stream* stream = find(stream_id)) {
    stream->onRequestData(data, len);
  } else {
    codec_.consumeStream(stream_id, len);
  }
}

void Http2Session::onRequestEnd(int32_t stream_id) {
  if (Http2Stream* stream = find(stream_id)) stream->onRequestEnd();
}

void Http2Session::onStreamReset(int32_t stream_id, uint32_t) {
  if (Http2Stream* stream = find(stream_id)) stream->markResetByClient();
}

void Http2Session::onStreamClose(int32_t stream_id, uint32_t error_code) {
  if (stream_id == head_pending_) {
    head_pending_ = 0;
    disarmHeadTimer();
  }
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  std::unique_ptr<Http2Stream> stream = std::move(it->second);
  streams_.erase(it);
  // Still unfinished here means the client reset it (or broke it); a completed stream closes with both ends done.
  const bool unfinished = stream->onClose(Outcome::StreamReset, error_code);
  // Unfinished and not closed by tether's own choice: the client reset it, or broke the protocol on it and the
  // codec reset it (MadeYouReset). Both cost the budget.
  if (unfinished && (stream->resetByClient() || !stream->resetByTether())) {
    if (auto* metrics = worker_.exchangeContext().metrics) metrics->onH2StreamReset();
    noteEarlyReset();
  }
  worker_.headPool().release(stream->takeRequestHead());
  worker_.deleter().defer(std::move(stream));  // its exchange may still be on the stack
  if (!closed_) updateIdleTimer();
}

void Http2Session::onGoaway(uint32_t error_code) {
  // The client is leaving: what it has in flight will not be read (cancellation counts a GOAWAY as a close).
  cancelAll(error_code == NGHTTP2_NO_ERROR ? Outcome::ClientClosed : Outcome::ClientReset, error_code);
  closing_ = true;
}

size_t Http2Session::readResponseBody(int32_t stream_id, uint8_t* buf, size_t len, bool* end, bool* trailers) {
  Http2Stream* stream = find(stream_id);
  if (!stream) {
    *end = true;
    return 0;
  }
  return stream->readResponseBody(buf, len, end, trailers);
}

}  // namespace tether
