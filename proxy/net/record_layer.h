#pragma once

// A record protocol between SocketTransport and its socket (TLS, in tls::TlsLayer): the transport keeps the one
// edge-triggered registration, the buffers, the read budget and the flush queue; the layer turns the socket's bytes
// into plaintext and plaintext into records. It reads the socket itself (recv, through whatever its library calls)
// and writes nothing: every record it makes is appended to the `cipher` buffer the transport passes, which the
// transport sends in one sendmsg after the callback that produced it. Nothing here knows OpenSSL.

#include <event2/buffer.h>

#include <cstddef>
#include <string>

namespace tether::net {

class RecordLayer {
 public:
  enum class Status {
    kData,         // `bytes` of plaintext (0: a record without data was handled, read on)
    kNeedMore,     // the socket said EAGAIN: nothing more until its next edge
    kCloseNotify,  // the peer closed the record stream (TLS close_notify); the socket may still be open
    kEof,          // the socket's end (a FIN) without a closing record
    kReset,        // the socket failed (ECONNRESET and the like)
    kFailed,       // the protocol failed (a bad record, a failed handshake): failure() says why
  };
  struct ReadResult {
    Status status;
    size_t bytes = 0;
  };

  virtual ~RecordLayer() = default;

  // Reads at most `cap` bytes of plaintext into `out`, driving the handshake on the way; records the handshake or
  // the protocol makes meanwhile (a server flight, session tickets, a KeyUpdate answer, an alert) go to `cipher`.
  virtual ReadResult read(char* out, size_t cap, evbuffer* cipher) = 0;
  // Moves plaintext from `plain` into records appended to `cipher` while `cipher` holds less than `cipher_cap`.
  // False if the layer failed (nothing more can be written).
  virtual bool encrypt(evbuffer* plain, evbuffer* cipher, size_t cipher_cap) = 0;
  // The handshake completed.
  virtual bool established() const = 0;
  // ALPN chose "h2".
  virtual bool alpnH2() const = 0;
  // Appends the closing record (TLS close_notify) once, if the handshake completed.
  virtual void closeNotify(evbuffer* cipher) = 0;
  // Nothing is pending: the layer may free its own buffers (they come back on the next read or write).
  virtual void releaseIdleMemory() = 0;
  // Why the last kFailed happened.
  virtual std::string failure() const = 0;
};

}  // namespace tether::net
