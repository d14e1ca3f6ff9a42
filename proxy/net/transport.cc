#include "net/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace tether::net {

PeerState Transport::peerState() const {
  tcp_info info{};
  socklen_t length = sizeof(info);
  if (getsockopt(fd(), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return PeerState::kOpen;
  if (info.tcpi_state == TCP_CLOSE_WAIT) return PeerState::kFin;
  if (info.tcpi_state == TCP_CLOSE) return PeerState::kReset;
  return PeerState::kOpen;
}

void Transport::abortiveClose() {
  const linger lg{1, 0};
  setsockopt(fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

}  // namespace tether::net
