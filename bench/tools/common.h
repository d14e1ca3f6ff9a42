// Small helpers shared by the macro benchmark tools (header-only: each tool is one .cc file).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

inline int64_t monoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] inline void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

// "127.0.0.1:18080" -> sockaddr_in. Numeric IPv4 only: the bench is loopback-only.
inline sockaddr_in parseAddr(const std::string& hostPort) {
  auto colon = hostPort.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "bad address %s (want ip:port)\n", hostPort.c_str());
    std::exit(2);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(std::atoi(hostPort.c_str() + colon + 1)));
  if (inet_pton(AF_INET, hostPort.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "bad IPv4 address in %s\n", hostPort.c_str());
    std::exit(2);
  }
  return sa;
}

inline void setNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

inline void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

inline int listenOn(const std::string& hostPort, bool reusePort) {
  sockaddr_in sa = parseAddr(hostPort);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reusePort) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("bind");
  if (listen(fd, 4096) != 0) die("listen");
  setNonBlocking(fd);
  return fd;
}

// Blocking connect; returns -1 on failure.
inline int connectTo(const sockaddr_in& sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  setNoDelay(fd);
  return fd;
}

// Tools that hold thousands of sockets raise their own soft fd limit to the hard one.
inline void raiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Case-insensitive search for a header's value in a raw request/response head; empty if absent.
inline std::string_view headerValue(std::string_view head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head.size() - pos < name.size() + 1) break;
    if (strncasecmp(head.data() + pos, name.data(), name.size()) == 0 && head[pos + name.size()] == ':') {
      size_t v = pos + name.size() + 1;
      while (v < head.size() && head[v] == ' ') ++v;
      size_t end = head.find("\r\n", v);
      return head.substr(v, (end == std::string_view::npos ? head.size() : end) - v);
    }
  }
  return {};
}

// Minimal "--key value" / "--flag" argument access.
struct Args {
  int argc;
  char** argv;
  std::string get(const char* key, const std::string& def) const {
    for (int i = 1; i + 1 < argc; ++i)
      if (std::strcmp(argv[i], key) == 0) return argv[i + 1];
    return def;
  }
  long num(const char* key, long def) const {
    std::string v = get(key, "");
    return v.empty() ? def : std::atol(v.c_str());
  }
  bool has(const char* key) const {
    for (int i = 1; i < argc; ++i)
      if (std::strcmp(argv[i], key) == 0) return true;
    return false;
  }
};

}  // namespace bench
