#pragma once

// A client connection's address with its two text forms, formatted once when the connection is accepted rather
// than for every request on it (inet_ntop costs a few hundred nanoseconds; every request logs and forwards them).

#include <string>

#include "net/socket_address.h"

namespace tether::net {

struct ClientEndpoint {
  explicit ClientEndpoint(const SocketAddress& peer) : address(peer), text(peer.toString()), ip(peer.ip()) {}

  SocketAddress address;
  std::string text;  // "ip:port" ("[ip]:port" for IPv6), as logged
  std::string ip;    // as forwarded in X-Forwarded-For
};

}  // namespace tether::net
