#include "net/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tether::net {

namespace {

// Strict decimal port: 1-5 digits, no sign or spaces, at most 65535 (0 is allowed: "any port").
std::optional<uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  const bool v6 = !text.empty() && text.front() == '[';
  if (v6) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  const auto port = parsePort(port_text);
  // inet_pton needs a NUL-terminated string; addresses are short, so a small buffer suffices.
  char buf[INET6_ADDRSTRLEN] = {};
  if (!port || host.empty() || host.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, host.data(), host.size());

  SocketAddress result;
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&result.storage_);
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) return std::nullopt;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(*port);
    result.length_ = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&result.storage_);
    if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1) return std::nullopt;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(*port);
    result.length_ = sizeof(sockaddr_in);
  }
  return result;
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress result;
  if (sa == nullptr || len <= 0) return result;
  const auto copy = std::min<size_t>(static_cast<size_t>(len), sizeof(result.storage_));
  std::memcpy(&result.storage_, sa, copy);
  result.length_ = static_cast<socklen_t>(copy);
  return result;
}

uint16_t SocketAddress::port() const {
  switch (family()) {
    case AF_INET: return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6: return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default: return 0;
  }
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const void* addr = nullptr;
  if (family() == AF_INET) addr = &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
  if (family() == AF_INET6) addr = &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
  if (addr == nullptr || inet_ntop(family(), addr, buf, sizeof(buf)) == nullptr) return {};
  return buf;
}

std::string SocketAddress::toString() const {
  if (family() == AF_INET) return ip() + ":" + std::to_string(port());
  if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
  return {};
}

// Compares only the meaningful fields: getaddrinfo and accept() may leave different bytes in the padding.
bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family()) return false;
  if (family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage_);
    const auto* b = reinterpret_cast<const sockaddr_in*>(&other.storage_);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage_);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(&other.storage_);
    return a->sin6_port == b->sin6_port && a->sin6_scope_id == b->sin6_scope_id &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
  }
  return length_ == other.length_;  // both unset (or an unsupported family)
}

}  // namespace tether::net
