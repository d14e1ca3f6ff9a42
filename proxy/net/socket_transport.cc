#include "net/socket_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace tether::net {
namespace {

// One read takes at most this much.
constexpr size_t kReadChunk = BufferPool::kScratchSize;
// Reads per loop callback: a peer that sends as fast as tether reads would otherwise keep this loop (and every
// other connection and timer of the worker) waiting for an EAGAIN that never comes. The rest is read next turn.
constexpr int kReadsPerCallback = 16;
// With a layer: plaintext is sealed into records while fewer than this many wait to be sent.
constexpr size_t kCipherHigh = 64 * 1024;
// With a layer, decrypted while not reading (see peekWhileStalled).
constexpr size_t kStallSlack = 16 * 1024;

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

// Marks a callback in progress: if the callback destroys the transport, the destructor clears `alive`.
// The transport points at the guard's flag only while the guard lives (restored on exit): GCC cannot see that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
class AliveGuard {
 public:
  explicit AliveGuard(bool*& slot) : slot_(slot), outer_(slot) { slot_ = &alive_; }
  ~AliveGuard() {
    if (alive_) slot_ = outer_;
    if (!alive_ && outer_ != nullptr) *outer_ = false;
  }
  bool alive() const { return alive_; }

 private:
  bool*& slot_;
  bool* outer_;
  bool alive_ = true;
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

SocketTransport::SocketTransport(event_base* base, int fd, IoContext* io, std::unique_ptr<RecordLayer> layer)
    : fd_(fd),
      io_ctx_(io),
      layer_(std::move(layer)),
      io_(event_new(base, fd, EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, &SocketTransport::onIo, this)) {
  setNoDelay(fd_);
  if (layer_ && io_ctx_ == nullptr) own_scratch_.reset(new char[kReadChunk]);
}

std::unique_ptr<SocketTransport> SocketTransport::connect(event_base* base, const SocketAddress& address, IoContext* io,
                                                          const LayerFor& layer_for) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return nullptr;
  std::unique_ptr<RecordLayer> layer;
  if (layer_for) {
    layer = layer_for(fd);
    if (!layer) {
      ::close(fd);
      return nullptr;
    }
  }
  auto transport = std::make_unique<SocketTransport>(base, fd, io, std::move(layer));
  transport->connecting_ = true;
  transport->read_ready_ = false;
  if (::connect(fd, address.sockaddr_ptr(), address.length()) != 0 && errno != EINPROGRESS) {
    // Refused at once (loopback does that): report it from the loop like an asynchronous failure.
    transport->connect_error_ = errno;
  }
  return transport;
}

SocketTransport::~SocketTransport() {
  if (alive_ != nullptr) *alive_ = false;
  io_.reset();
  if (layer_ && !abortive_ && !gone_) sendCloseNotify();
  layer_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void SocketTransport::sendCloseNotify() {
  // tether closes an established TLS connection: the peer learns the stream ended here, not that it was cut.
  // Best effort, without waiting: what the socket does not take now is dropped with the connection.
  evbuffer* cipher = cipherOut();
  layer_->closeNotify(cipher);
  while (evbuffer_get_length(cipher) > 0 && sendSome(cipher) > 0) {
  }
}

void SocketTransport::abortiveClose() {
  abortive_ = true;
  Transport::abortiveClose();
}

PeerState SocketTransport::peerState() const {
  if (record_end_ == RecordEnd::kFin) return PeerState::kFin;
  if (record_end_ == RecordEnd::kReset) return PeerState::kReset;
  return Transport::peerState();
}

void SocketTransport::start(TransportCallbacks& callbacks) {
  callbacks_ = &callbacks;
  event_add(io_.get(), nullptr);
  if (connect_error_ != 0) defer();
}

evbuffer* SocketTransport::input() {
  if (!input_) input_ = newBuffer();
  return input_.get();
}

evbuffer* SocketTransport::output() {
  if (!output_) output_ = newBuffer();
  return output_.get();
}

evbuffer* SocketTransport::cipherOut() {
  if (!cipher_out_) cipher_out_ = newBuffer();
  return cipher_out_.get();
}

void SocketTransport::releaseEmptyBuffers() {
  // Only from the loop's entry point: no owner holds one of these pointers across a return to the loop.
  if (io_ctx_ == nullptr) return;
  if (input_ && evbuffer_get_length(input_.get()) == 0) io_ctx_->buffers.release(std::move(input_));
  if (output_ && evbuffer_get_length(output_.get()) == 0) io_ctx_->buffers.release(std::move(output_));
  if (layer_) {
    if (cipher_out_ && evbuffer_get_length(cipher_out_.get()) == 0) io_ctx_->buffers.release(std::move(cipher_out_));
    // Nothing held: the layer's record buffers go once the connection stays so for a sweep period (IdleSweep).
    if (!input_ && !output_ && !cipher_out_) io_ctx_->idle.touch(*this);
  }
}

void SocketTransport::onIdleSweep() {
  // Busy again since the touch: it is touched again when it empties. The layer refuses while a record is partial.
  if (!input_ && !output_ && !cipher_out_) layer_->releaseIdleMemory();
}

void SocketTransport::defer() {
  // An active event is not activated twice: however many requests, one call per loop turn.
  event_active(io_.get(), EV_TIMEOUT, 0);
}

void SocketTransport::setWatermarks(size_t read_high, size_t write_low) {
  read_high_ = read_high;
  write_low_ = write_low;
}

void SocketTransport::scheduleFlush() {
  if (flush_pending_ || gone_) return;
  flush_pending_ = true;
  if (io_ctx_ != nullptr) {
    io_ctx_->flushes.add(*this);  // runs when the current callback returns
  } else {
    defer();
  }
}

void SocketTransport::onQueuedFlush() {
  if (!flush_pending_) return;
  flush_pending_ = false;
  if (gone_ || connecting_ || write_blocked_) return;  // connecting / EPOLLOUT: written when the socket is ready
  if (flushNow()) releaseEmptyBuffers();
}

void SocketTransport::wake() {
  if (wake_pending_ || gone_) return;
  wake_pending_ = true;
  defer();
}

void SocketTransport::setReading(bool on) {
  if (reading_ == on) return;
  reading_ = on;
  // Bytes (or EOF) may have arrived while paused: their edge is gone, so look from the loop.
  if (on && (read_ready_ || (input_ && evbuffer_get_length(input_.get()) > 0))) wake();
}

void SocketTransport::onIo(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<SocketTransport*>(arg);
  IoContext* io = self->io_ctx_;
  {
    AliveGuard guard(self->alive_);
    // Deferred work first: a flush queued by the last callback goes out before more input is read.
    if (what & EV_TIMEOUT) self->handleDeferred();
    if (guard.alive() && (what & (EV_READ | EV_WRITE | EV_CLOSED))) self->handleIo(what);
    if (guard.alive()) self->releaseEmptyBuffers();
  }
  // What this callback queued, here or on other connections (the response to a client), goes out now.
  if (io != nullptr) io->flushes.run();
}

void SocketTransport::handleIo(short what) {
  if (gone_) return;
  if (connecting_) {
    finishConnect();
    return;
  }
  if (what & (EV_READ | EV_CLOSED)) read_ready_ = true;
  if ((what & EV_WRITE) && write_blocked_) {
    write_blocked_ = false;
    if (!flushNow()) return;
  }
  if (gone_) return;
  // A handshake is not the owner's reading: it goes on while the owner pauses.
  const bool stalled =
      !handshaking_ && (!reading_ || (read_high_ != 0 && input_ && evbuffer_get_length(input_.get()) >= read_high_));
  if (stalled) {
    // libevent reports a reset (EPOLLHUP|EPOLLERR) as plain EV_READ|EV_WRITE, not EV_CLOSED: any wake-up while
    // not reading may be the peer leaving.
    if (layer_) peekWhileStalled();
    hangup_seen_ = true;
    AliveGuard guard(alive_);
    callbacks_->onHangup();
    return;
  }
  bool delivered = false;
  readInput(&delivered);
}

void SocketTransport::finishConnect() {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == EINPROGRESS || error == EALREADY) return;
  connecting_ = false;
  if (error != 0) {
    reportGone(true);
    return;
  }
  read_ready_ = true;
  if (layer_) {
    // The client's first flight; onConnected() once the server's answer completed the handshake.
    handshaking_ = true;
    bool delivered = false;
    readInput(&delivered);
    return;
  }
  {
    AliveGuard guard(alive_);
    callbacks_->onConnected();
    if (!guard.alive()) return;
  }
  flushNow();  // the request may have been queued while connecting
}

bool SocketTransport::handshakeDone() {
  handshaking_ = false;
  {
    AliveGuard guard(alive_);
    callbacks_->onConnected();
    if (!guard.alive()) return false;
  }
  if (pendingOutput() > 0) scheduleFlush();  // the request may have been queued while connecting
  return true;
}

bool SocketTransport::handshakeFailed(const std::string& reason) {
  handshaking_ = false;
  // The alert OpenSSL made (a failed verification says why) goes out before the owner closes the connection.
  while (cipher_out_ && evbuffer_get_length(cipher_out_.get()) > 0 && sendSome(cipher_out_.get()) > 0) {
  }
  gone_ = true;
  eof_ = true;
  read_ready_ = false;
  AliveGuard guard(alive_);
  callbacks_->onHandshakeFailed(reason);
  return guard.alive();
}

void SocketTransport::handleDeferred() {
  if (gone_) return;
  if (connect_error_ != 0) {
    connecting_ = false;
    reportGone(true);
    return;
  }
  if (flush_pending_) {
    flush_pending_ = false;
    if (!connecting_ && !write_blocked_ && !flushNow()) return;
    if (gone_) return;
  }
  if (wake_pending_) {
    wake_pending_ = false;
    bool delivered = false;
    if (!readInput(&delivered) || gone_) return;
    if (!delivered) {
      {
        AliveGuard guard(alive_);
        callbacks_->onReadable();
        if (!guard.alive() || gone_) return;
      }
      readInput(&delivered);  // the owner may have drained a full input: the socket's bytes have no edge left
    }
  }
}

bool SocketTransport::readInput(bool* delivered) {
  if (layer_) return readLayered(delivered);
  for (int reads = 0; reading_ && read_ready_ && !gone_ && !eof_; ++reads) {
    if (reads == kReadsPerCallback) {
      readLater();
      break;
    }
    evbuffer* in = input();  // afresh each time: the owner's callback may have made it change
    const size_t buffered = evbuffer_get_length(in);
    if (read_high_ != 0 && buffered >= read_high_) break;  // stays ready: the owner drains, then wakes us
    const size_t want = read_high_ == 0 ? kReadChunk : std::min(kReadChunk, read_high_ - buffered);
    const ssize_t got = io_ctx_ != nullptr ? readViaScratch(in, want) : readIntoReserved(in, want);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      read_ready_ = false;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got == 0) hangup_seen_ = false;
      return reportGone(got < 0);
    }
    // A short read emptied the receive queue, but not necessarily the socket: a reset that came with the bytes
    // is only reported by the next read (libevent reports EPOLLERR|EPOLLHUP as plain EV_READ|EV_WRITE, and the
    // edge is spent), so reading goes on until EAGAIN, EOF or the error. One extra recv per read event is the
    // price of never losing a client's RST.
    *delivered = true;
    AliveGuard guard(alive_);
    callbacks_->onReadable();
    if (!guard.alive()) return false;
  }
  return true;
}

void SocketTransport::readLater() {
  // A zero timeout fires on the loop's next iteration, after every event already active: an event_active here
  // would join the queue being run and keep the loop in this connection (timers included would wait).
  // Created on first use: only connections that were flooded pay for it.
  if (!read_later_) read_later_.reset(evtimer_new(event_get_base(io_.get()), &SocketTransport::onReadLater, this));
  const timeval now{0, 0};
  evtimer_add(read_later_.get(), &now);
}

void SocketTransport::onReadLater(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<SocketTransport*>(arg);
  self->wake_pending_ = true;
  onIo(fd, EV_TIMEOUT, arg);
}

ssize_t SocketTransport::readViaScratch(evbuffer* in, size_t want) {
  // recv/sendmsg rather than read/writev: socket calls skip the VFS layer (fsnotify, file position locking).
  const ssize_t got = ::recv(fd_, io_ctx_->buffers.scratch(), want, 0);
  if (got > 0) evbuffer_add(in, io_ctx_->buffers.scratch(), static_cast<size_t>(got));
  return got;
}

ssize_t SocketTransport::readIntoReserved(evbuffer* in, size_t want) {
  evbuffer_iovec vec[2];
  const int count = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(want), vec, 2);
  if (count <= 0) {
    errno = ENOMEM;
    return -1;
  }
  iovec iov[2];
  size_t room = want;
  int used = 0;
  for (int i = 0; i < count && room > 0; ++i, ++used) {
    iov[i].iov_base = vec[i].iov_base;
    iov[i].iov_len = std::min(vec[i].iov_len, room);
    room -= iov[i].iov_len;
  }
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(used);
  const ssize_t got = ::recvmsg(fd_, &msg, 0);
  const int error = errno;
  size_t left = got > 0 ? static_cast<size_t>(got) : 0;
  for (int i = 0; i < used; ++i) {
    vec[i].iov_len = std::min(iov[i].iov_len, left);
    left -= vec[i].iov_len;
  }
  evbuffer_commit_space(in, vec, got > 0 ? used : 0);
  errno = error;
  return got;
}

bool SocketTransport::flushNow() {
  if (layer_) return flushLayered();
  if (!output_ || evbuffer_get_length(output_.get()) == 0) return true;
  evbuffer* out = output_.get();
  while (evbuffer_get_length(out) > 0) {
    if (sendSome(out) >= 0) continue;  // a bounded number of chains per call: loop until the socket says full
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      write_blocked_ = true;  // the next EPOLLOUT edge resumes
      break;
    }
    return reportGone(true);  // EPIPE, ECONNRESET: the peer is gone
  }
  if (evbuffer_get_length(out) > write_low_) return true;
  AliveGuard guard(alive_);
  callbacks_->onDrained();
  return guard.alive();
}

bool SocketTransport::readLayered(bool* delivered) {
  for (int reads = 0; (reading_ || handshaking_) && read_ready_ && !gone_ && !eof_; ++reads) {
    if (record_end_ != RecordEnd::kNone) return endRecords();  // read by peekWhileStalled
    if (reads == kReadsPerCallback) {
      readLater();
      break;
    }
    evbuffer* in = input();  // afresh each time: the owner's callback may have made it change
    const size_t buffered = evbuffer_get_length(in);
    if (read_high_ != 0 && buffered >= read_high_) break;  // stays ready: the owner drains, then wakes us
    const size_t want = read_high_ == 0 ? kReadChunk : std::min(kReadChunk, read_high_ - buffered);
    stall_read_ = 0;  // reading again: a later stall may decrypt its slack anew (not a wake() while paused)
    const bool was_established = layer_->established();
    const RecordLayer::ReadResult got = layer_->read(scratch(), want, cipherOut());
    // A handshake flight, tickets, a KeyUpdate answer: out after this callback, with whatever the owner writes.
    // Plaintext queued before the handshake completed goes too, even when completing it produced no record.
    if (evbuffer_get_length(cipher_out_.get()) > 0 ||
        (!was_established && layer_->established() && output_ && evbuffer_get_length(output_.get()) > 0)) {
      scheduleFlush();
    }
    if (handshaking_) {
      if (layer_->established() && !handshakeDone()) return false;
      const bool ended = got.status != RecordLayer::Status::kData && got.status != RecordLayer::Status::kNeedMore;
      if (handshaking_ && ended) return handshakeFailed(layer_->failure());
    }
    if (got.status == RecordLayer::Status::kNeedMore) {
      read_ready_ = false;  // the layer's recv said EAGAIN
      break;
    }
    if (got.status != RecordLayer::Status::kData) {
      noteEnd(got.status);
      return endRecords();
    }
    if (got.bytes == 0) continue;  // a record without data
    evbuffer_add(in, scratch(), got.bytes);
    *delivered = true;
    AliveGuard guard(alive_);
    callbacks_->onReadable();
    if (!guard.alive()) return false;
  }
  return true;
}

void SocketTransport::peekWhileStalled() {
  for (int reads = 0; reads < kReadsPerCallback && read_ready_ && record_end_ == RecordEnd::kNone && !eof_ &&
                      stall_read_ < kStallSlack;
       ++reads) {
    const RecordLayer::ReadResult got =
        layer_->read(scratch(), std::min(kReadChunk, kStallSlack - stall_read_), cipherOut());
    if (evbuffer_get_length(cipher_out_.get()) > 0) scheduleFlush();
    if (got.status == RecordLayer::Status::kNeedMore) {
      read_ready_ = false;
    } else if (got.status != RecordLayer::Status::kData) {
      noteEnd(got.status);  // reported once reading resumes; the owner sees it in peerState() now
    } else if (got.bytes > 0) {
      evbuffer_add(input(), scratch(), got.bytes);
      stall_read_ += got.bytes;
    }
  }
}

void SocketTransport::noteEnd(RecordLayer::Status status) {
  const bool fin = status == RecordLayer::Status::kCloseNotify || status == RecordLayer::Status::kEof;
  record_end_ = fin ? RecordEnd::kFin : RecordEnd::kReset;
  // A failed handshake or record leaves an alert for the peer: sent before the owner hears of it.
  if (status == RecordLayer::Status::kFailed) {
    while (evbuffer_get_length(cipherOut()) > 0 && sendSome(cipher_out_.get()) > 0) {
    }
  }
}

bool SocketTransport::endRecords() {
  read_ready_ = false;
  const bool reset = record_end_ == RecordEnd::kReset;
  if (!reset) hangup_seen_ = false;
  return reportGone(reset);
}

bool SocketTransport::flushLayered() {
  if (pendingOutput() == 0) return true;
  evbuffer* cipher = cipherOut();
  for (;;) {
    if (output_ && evbuffer_get_length(output_.get()) > 0 && evbuffer_get_length(cipher) < kCipherHigh &&
        !layer_->encrypt(output_.get(), cipher, kCipherHigh)) {
      return reportGone(true);
    }
    if (evbuffer_get_length(cipher) == 0) break;  // all sent, or plaintext waiting for the handshake to complete
    if (sendSome(cipher) >= 0) continue;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      write_blocked_ = true;  // the next EPOLLOUT edge resumes
      break;
    }
    // EPIPE, ECONNRESET: the peer is gone
    if (handshaking_)
      return handshakeFailed(std::string("connection lost during the TLS handshake: ") + std::strerror(errno));
    return reportGone(true);
  }
  // A handshake flight drained is not the owner's output drained.
  if (handshaking_ || pendingOutput() > write_low_) return true;
  AliveGuard guard(alive_);
  callbacks_->onDrained();
  return guard.alive();
}

ssize_t SocketTransport::sendSome(evbuffer* out) {
  constexpr int kMaxChains = 64;
  evbuffer_iovec chains[kMaxChains];
  const int count = evbuffer_peek(out, -1, nullptr, chains, kMaxChains);
  iovec iov[kMaxChains];
  const int used = std::min(count, kMaxChains);
  for (int i = 0; i < used; ++i) iov[i] = iovec{chains[i].iov_base, chains[i].iov_len};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(used);
  // MSG_NOSIGNAL: a peer gone mid-write is an EPIPE here, whatever the process's SIGPIPE disposition.
  const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
  if (sent > 0) evbuffer_drain(out, static_cast<size_t>(sent));
  return sent;
}

bool SocketTransport::reportGone(bool reset) {
  if (gone_ || (eof_ && !reset)) return true;
  // After a FIN the peer may still read (a half-close): writing goes on; after a reset or error nothing does.
  if (reset) gone_ = true;
  eof_ = true;
  AliveGuard guard(alive_);
  callbacks_->onPeerGone(reset);
  return guard.alive();
}

}  // namespace tether::net
