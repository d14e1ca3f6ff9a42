#pragma once

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
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  std::string ip() const;         // "1.2.3.4" or "::1" (no brackets)
  std::string toString() const;   // "1.2.3.4:80" or "[::1]:80"
  bool operator==(const SocketAddress& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace tether::net
