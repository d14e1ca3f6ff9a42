// Client connections disable Nagle's algorithm on TLS listeners as on cleartext ones. Found by the soak
// (tests/soak): tether writes an HTTP/2 response as several TLS records (HEADERS, then DATA); without TCP_NODELAY the
// second waited for the client's delayed ACK, so every h2/TLS request took 40 ms more (53 ms instead of 3.5 ms on
// average). The test reads the option on tether's own socket, duplicated into this process with pidfd_getfd(2),
// rather than timing requests, which a busy machine would make flaky.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

uint16_t localPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// The inode of the IPv4 loopback socket local_port -> remote_port (/proc/net/tcp), if there is one.
std::optional<std::string> socketInode(uint16_t local_port, uint16_t remote_port) {
  char local[32], remote[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", local_port);
  std::snprintf(remote, sizeof remote, "0100007F:%04X", remote_port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    char l[64], r[64];
    unsigned long inode = 0;
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if (std::sscanf(line.c_str(), "%*s %63s %63s %*s %*s %*s %*s %*s %*s %lu", l, r, &inode) == 3 &&
        local == std::string(l) && remote == std::string(r)) {
      return std::to_string(inode);
    }
  }
  return std::nullopt;
}

// Duplicates into this process the descriptor of `pid` that is the socket `inode`; -1 if not found or not allowed.
int stealSocket(pid_t pid, const std::string& inode) {
  const std::string target = "socket:[" + inode + "]";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    if (std::filesystem::read_symlink(entry.path(), error).string() != target) continue;
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) return -1;
    const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, std::stoi(entry.path().filename()), 0));
    ::close(pidfd);
    return fd;
  }
  return -1;
}

// TCP_NODELAY on tether's end of the connection whose client end is `client_fd`.
std::optional<int> tetherNoDelay(const TetherInstance& tether, int client_fd) {
  const auto inode = socketInode(tether.port(), localPort(client_fd));
  if (!inode) return std::nullopt;
  const int fd = stealSocket(tether.pid(), *inode);
  if (fd < 0) return std::nullopt;
  int value = 0;
  socklen_t len = sizeof value;
  const int rc = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  return value;
}

TEST(TlsNoDelay, TlsClientConnectionsDisableNagle) {
  TestUpstream upstream;
  const CertificatePaths certificate = makeSelfSignedCertificate(tempDir());
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.tls_cert = certificate.cert;
  options.tls_key = certificate.key;
  TetherInstance tether(options);
  TlsClient client;
  ASSERT_TRUE(client.connect(tether.port(), "http/1.1"));
  // A whole exchange: tether has certainly accepted the connection and set its transport up.
  ASSERT_TRUE(client.send(getRequest("/")));
  ASSERT_NE(client.recvSome(10s).find("HTTP/1.1 200"), std::string::npos);
  const auto nodelay = tetherNoDelay(tether, client.fd());
  if (!nodelay && errno == EPERM) GTEST_SKIP() << "pidfd_getfd not permitted here";
  ASSERT_TRUE(nodelay);
  EXPECT_NE(*nodelay, 0);
}

// The same check on a cleartext listener, which always set it: shows the method reads the right socket.
TEST(TlsNoDelay, CleartextClientConnectionsDisableNagle) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/")));
  const auto response = client.readResponse(10s);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200);
  const auto nodelay = tetherNoDelay(tether, client.fd());
  if (!nodelay && errno == EPERM) GTEST_SKIP() << "pidfd_getfd not permitted here";
  ASSERT_TRUE(nodelay);
  EXPECT_NE(*nodelay, 0);
}

}  // namespace
}  // namespace tether::testing
