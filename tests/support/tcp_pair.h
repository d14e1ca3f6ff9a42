#pragma once

// Loopback TCP sockets for transport tests: a listener on 127.0.0.1, and a connected pair whose `client` is
// blocking (the test drives it) and `server` non-blocking (the transport's, owned by it once given).

#include <cstdint>

#include "net/socket_address.h"

namespace tether::testing {

// A listening socket on 127.0.0.1 at a port the kernel picked (blocking accept); closed on destruction.
struct LoopbackListener {
  LoopbackListener();
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  net::SocketAddress address() const;

  int fd = -1;
  uint16_t port = 0;
};

struct TcpPair {
  TcpPair();
  ~TcpPair();
  TcpPair(const TcpPair&) = delete;
  TcpPair& operator=(const TcpPair&) = delete;

  // Closes the client with SO_LINGER 0: the server side sees a RST.
  void resetClient();

  int listener = -1;
  int client = -1;
  int server = -1;  // owned by the transport once given to it
  uint16_t port = 0;
};

}  // namespace tether::testing
