#pragma once

// Transport on a non-blocking TCP socket, without bufferevents, cleartext or through a RecordLayer (TLS): one
// edge-triggered registration (read, write and peer close) for the connection's whole life, so no epoll_ctl per
// request; reads go straight into the input buffer (no FIONREAD ioctl first, as libevent's evbuffer_read does); writes
// happen right after the callback that queued them, and EPOLLOUT is only waited for while the socket is full.
//
// Edge-triggered means a readiness edge is reported once: the transport remembers it (`read_ready_`) until a read
// returns EAGAIN (a short read is not enough: a reset may follow the bytes), so pausing, resuming and a full input
// buffer never lose data, FIN or RST.
//
// With a RecordLayer (tls::acceptTls, tls::connectTls) the same holds for TLS: the layer reads the socket (recv) when
// this transport reads, decrypts into the same scratch, and every record it makes (handshake flights, tickets,
// alerts, responses) collects in `cipher_out_`, sent in one sendmsg after the callback. Without one (cleartext) the
// layer costs one predictable branch per read, flush and buffer release. A layer's own buffers (OpenSSL's records)
// are freed only once the connection stayed empty for a sweep period of the worker's IdleSweep, not between
// keep-alive requests.

#include <functional>
#include <memory>
#include <string_view>

#include "net/io_context.h"
#include "net/record_layer.h"
#include "net/socket_address.h"
#include "net/transport.h"
#include "util/libevent.h"

namespace tether::net {

class SocketTransport final : public Transport, private FlushQueue::Member, private IdleSweep::Member {
 public:
  // Takes ownership of an accepted, non-blocking socket. With the worker's `io`: reads go through its scratch, the
  // input and output buffers go back to its pool whenever they are empty after the loop ran this transport (idle
  // keep-alive connections hold none), and flushes go through its flush queue.
  // With `layer`, every byte in and out goes through it (TLS).
  SocketTransport(event_base* base, int fd, IoContext* io = nullptr, std::unique_ptr<RecordLayer> layer = nullptr);
  // Makes the record layer of a connecting socket (tls::connectTls); null if it cannot.
  using LayerFor = std::function<std::unique_ptr<RecordLayer>(int fd)>;
  // Starts a non-blocking connect; onConnected() or onPeerGone(true) follows from the loop once start() ran. With
  // `layer_for`, the layer's handshake runs once connected (reading even while paused), onConnected() follows its
  // completion and onHandshakeFailed() its failure. Null if no socket (or no layer) could be created.
  static std::unique_ptr<SocketTransport> connect(event_base* base, const SocketAddress& address,
                                                  IoContext* io = nullptr, const LayerFor& layer_for = {});
  ~SocketTransport() override;
  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;

  void start(TransportCallbacks& callbacks) override;
  void setCallbacks(TransportCallbacks& callbacks) override { callbacks_ = &callbacks; }
  void setWatermarks(size_t read_high, size_t write_low) override;
  evbuffer* input() override;
  evbuffer* output() override;
  void scheduleFlush() override;
  size_t pendingOutput() const override {
    return (output_ ? evbuffer_get_length(output_.get()) : 0) +
           (cipher_out_ ? evbuffer_get_length(cipher_out_.get()) : 0);
  }
  void setReading(bool on) override;
  void wake() override;
  bool hangupSeen() const override { return hangup_seen_; }
  // With a layer: kFin also once the peer's closing record (close_notify) was read, the socket still open.
  PeerState peerState() const override;
  void abortiveClose() override;
  int fd() const override { return fd_; }
  bool secure() const override { return layer_ != nullptr; }
  bool alpnH2() const override { return layer_ && layer_->alpnH2(); }

 private:
  static void onIo(evutil_socket_t, short what, void* arg);
  // Runs handleDeferred() from the loop, right after the current callback.
  void defer();
  void handleIo(short what);
  void handleDeferred();
  void onQueuedFlush() override;
  void onIdleSweep() override;
  void finishConnect();
  // The outgoing handshake completed (onConnected) or failed (onHandshakeFailed); false when the callback destroyed
  // this transport.
  bool handshakeDone();
  bool handshakeFailed(const std::string& reason);
  // Each returns false when a callback destroyed this transport.
  bool readInput(bool* delivered);
  // The read budget of one callback ran out with the socket still readable: read on at the next loop iteration.
  void readLater();
  static void onReadLater(evutil_socket_t fd, short, void* arg);
  // One read of at most `want` bytes appended to `in`; returns what read(2) returned (errno set on -1).
  ssize_t readViaScratch(evbuffer* in, size_t want);    // into the pool's scratch, then copied at its size
  ssize_t readIntoReserved(evbuffer* in, size_t want);  // straight into reserved space (no pool)
  bool flushNow();
  // The same with a layer: plaintext sealed into records (while cipher_out_ holds less than 64 KiB), then sent.
  bool readLayered(bool* delivered);
  bool flushLayered();
  // While not reading: decrypts up to kStallSlack bytes into input (no onReadable), so a close_notify behind a small
  // pipelined backlog is seen (peerState()) when the owner is told of the hangup.
  void peekWhileStalled();
  // Records what ended the layer's stream: Fin (close_notify, EOF) or Reset (a socket error, a failed record).
  void noteEnd(RecordLayer::Status status);
  // Tells the owner what noteEnd recorded; false when its callback destroyed this transport.
  bool endRecords();
  // A best-effort close_notify in the destructor.
  void sendCloseNotify();
  char* scratch() { return io_ctx_ != nullptr ? io_ctx_->buffers.scratch() : own_scratch_.get(); }
  evbuffer* cipherOut();
  // One sendmsg of what `out` holds (up to 64 chains); drains what was sent. Returns what sendmsg returned.
  ssize_t sendSome(evbuffer* out);
  bool reportGone(bool reset);
  util::EvBufferPtr newBuffer() { return io_ctx_ ? io_ctx_->buffers.acquire() : util::EvBufferPtr(evbuffer_new()); }
  void releaseEmptyBuffers();

  int fd_;
  IoContext* io_ctx_;
  util::EvBufferPtr input_;  // null while empty (with a pool), created on use
  util::EvBufferPtr output_;
  // With a layer: the records to send (pooled, null while empty) and what ended the records read.
  std::unique_ptr<RecordLayer> layer_;
  util::EvBufferPtr cipher_out_;
  std::unique_ptr<char[]> own_scratch_;  // a layer's plaintext without a pool (tests)
  enum class RecordEnd : uint8_t { kNone, kFin, kReset };
  RecordEnd record_end_ = RecordEnd::kNone;
  size_t stall_read_ = 0;  // decrypted by peekWhileStalled since reading last ran
  // The socket's one registration. Activated by hand with EV_TIMEOUT (it has no timeout of its own) it also runs
  // flush and wake-up requests after the current callback, so a connection needs no second event.
  util::EventPtr io_;
  util::EventPtr read_later_;  // see readLater(); null until a peer sent faster than one callback reads
  TransportCallbacks* callbacks_ = nullptr;
  bool* alive_ = nullptr;  // set while a callback runs: the destructor clears it
  size_t read_high_ = 0;
  size_t write_low_ = 0;
  int connect_error_ = 0;  // a connect() that failed at once, reported from the loop
  bool reading_ = true;
  bool read_ready_ = true;      // the socket may hold unread bytes (or EOF)
  bool write_blocked_ = false;  // the socket was full: the next EPOLLOUT edge resumes writing
  bool connecting_ = false;
  bool handshaking_ = false;  // connected, the layer's client handshake in progress
  bool flush_pending_ = false;
  bool wake_pending_ = false;
  bool hangup_seen_ = false;
  bool eof_ = false;       // the peer's FIN (or an error) was read: no more reading
  bool gone_ = false;      // reset or socket error reported: nothing more happens
  bool abortive_ = false;  // abortiveClose(): no close_notify
};

}  // namespace tether::net
