#pragma once

// What a worker lends the server TLS contexts of one listener: the ticket keys to seal and open session tickets
// with, and who counts finished handshakes. The contexts reach it through SSL_CTX ex_data from OpenSSL's callbacks,
// so it must outlive every SSL made from them (the Worker owns it and frees its sessions first).

#include "tls/ticket_key_ring.h"

namespace tether::tls {

class HandshakeObserver {
 public:
  // A client handshake finished (once per connection); `resumed`: from a session ticket, no full handshake.
  virtual void onHandshakeDone(bool resumed) = 0;

 protected:
  ~HandshakeObserver() = default;  // not owned through this interface
};

struct ServerHooks {
  TicketKeyRing* tickets = nullptr;       // null: no tickets are issued (or the context is only a file check)
  HandshakeObserver* observer = nullptr;  // null: not counted
};

}  // namespace tether::tls
