#pragma once

// A byte stream to one peer, with an input and an output buffer. Sessions parse from input() and append to output();
// the transport moves the bytes and reports what the peer did. One kind: SocketTransport, tether's own socket I/O,
// cleartext or TLS through a RecordLayer inside it (tls::acceptTls for clients, tls::connectTls for upstreams),
// driven by the worker's event loop.

#include <event2/buffer.h>

#include <cstddef>
#include <string_view>

namespace tether::net {

// What the TCP state says of the peer: still connected, gone with a FIN (CLOSE_WAIT), gone with a reset (CLOSE).
enum class PeerState { kOpen, kFin, kReset };

class TransportCallbacks {
 public:
  virtual ~TransportCallbacks() = default;
  // input() grew, or wake() was called.
  virtual void onReadable() = 0;
  // A write left at most the low watermark queued (everything, usually).
  virtual void onDrained() = 0;
  // The peer is gone: EOF (reset = false), or a reset / socket error (reset = true).
  virtual void onPeerGone(bool reset) = 0;
  // The socket changed while the transport was not reading (paused, or input at its high watermark): maybe more
  // bytes, maybe the peer's FIN or RST. The owner decides from the TCP state whether that matters now.
  virtual void onHangup() {}
  // An outgoing connect() completed (for TLS: the handshake too).
  virtual void onConnected() {}
  // The TLS handshake of an outgoing connection failed (certificate verification, protocol, the peer closing
  // mid-handshake); `reason` is OpenSSL's. A refused connect is still onPeerGone(true).
  virtual void onHandshakeFailed(std::string_view /*reason*/) { onPeerGone(true); }
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Registers with the loop and starts reading. The callbacks may be replaced later (h2c takes a connection over).
  virtual void start(TransportCallbacks& callbacks) = 0;
  virtual void setCallbacks(TransportCallbacks& callbacks) = 0;
  // Reading stops while input() holds `read_high` bytes (0: never); onDrained fires at or below `write_low`.
  virtual void setWatermarks(size_t read_high, size_t write_low) = 0;

  virtual evbuffer* input() = 0;
  virtual evbuffer* output() = 0;
  // What was appended to output() goes out right after the current callback (one write, no EPOLLOUT round trip).
  virtual void scheduleFlush() = 0;
  virtual size_t pendingOutput() const = 0;

  virtual void setReading(bool on) = 0;
  // Calls onReadable() from the loop soon (after reading what the socket holds, if reading): bytes already in
  // input() wait for the owner, or the owner has work to resume there.
  virtual void wake() = 0;
  // A hangup was reported and not yet followed by reading the EOF (see TransportCallbacks::onHangup).
  virtual bool hangupSeen() const = 0;
  // Whether the peer really left (after onHangup: more bytes, a pipelined request, are not a departure), from the
  // socket's TCP state; kOpen if it cannot be read.
  virtual PeerState peerState() const;

  // The close that follows sends a TCP reset instead of a FIN (SO_LINGER 0) and nothing before it (no TLS
  // close_notify): the peer cannot take the close for a normal end (of a read-until-close body, say), and no
  // TIME_WAIT is left behind.
  virtual void abortiveClose();

  virtual int fd() const = 0;
  virtual bool secure() const = 0;
  // TLS with ALPN "h2" negotiated: the client must speak HTTP/2 from its first byte.
  virtual bool alpnH2() const { return false; }
};

}  // namespace tether::net
