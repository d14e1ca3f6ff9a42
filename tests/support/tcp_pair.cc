#include "support/tcp_pair.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace tether::testing {
namespace {

// A listening socket on 127.0.0.1 at a port the kernel picked; its address in `*addr`.
int listenOnLoopback(sockaddr_in* addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(addr), len), 0);
  EXPECT_EQ(::listen(fd, 4), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len), 0);
  return fd;
}

}  // namespace

LoopbackListener::LoopbackListener() {
  sockaddr_in addr;
  fd = listenOnLoopback(&addr);
  port = ntohs(addr.sin_port);
}

LoopbackListener::~LoopbackListener() { ::close(fd); }

net::SocketAddress LoopbackListener::address() const {
  return *net::SocketAddress::parse("127.0.0.1:" + std::to_string(port));
}

TcpPair::TcpPair() {
  sockaddr_in addr;
  listener = listenOnLoopback(&addr);
  port = ntohs(addr.sin_port);
  client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  EXPECT_GE(server, 0);
}

TcpPair::~TcpPair() {
  if (client >= 0) ::close(client);
  ::close(listener);
}

void TcpPair::resetClient() {
  const linger lg{1, 0};
  setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(client);
  client = -1;
}

}  // namespace tether::testing
