#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::net {

// An IPv4 or IPv6 socket address, copyable and comparable. Text form: "1.2.3.4:80", "[::1]:80".
class SocketAddress {
 public:
  SocketAddress() = default;

  // Parses a numeric "ip:port" / "[ipv6]:port" (no name resolution). nullopt if malformed.
  static std::optional<SocketAddress> parse(std::string_view text);
  static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.sa.sa_family; }
  uint16_t port() const;
  std::string ip() const;        // "1.2.3.4" or "::1" (no brackets)
  std::string toString() const;  // "1.2.3.4:80" or "[::1]:80"
  bool operator==(const SocketAddress& other) const;

 private:
  // IPv4 or IPv6 only: 28 bytes rather than sockaddr_storage's 128 (one per connection, client and upstream).
  union Storage {
    sockaddr sa;
    sockaddr_in in;
    sockaddr_in6 in6;
  } storage_{};
  socklen_t length_ = 0;
};

}  // namespace tether::net
