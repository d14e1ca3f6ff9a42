#pragma once

// A connected pair of TCP sockets on 127.0.0.1 for transport tests: `client` is blocking (the test drives it),
// `server` non-blocking (the transport's, owned by it once given).

#include <cstdint>

namespace tether::testing {

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
