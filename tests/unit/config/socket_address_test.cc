#include "net/socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace tether::net {
namespace {

TEST(SocketAddress, ParsesIpv4) {
  const auto address = SocketAddress::parse("1.2.3.4:80");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->family(), AF_INET);
  EXPECT_EQ(address->port(), 80);
  EXPECT_EQ(address->ip(), "1.2.3.4");
  EXPECT_EQ(address->toString(), "1.2.3.4:80");
  EXPECT_EQ(address->length(), sizeof(sockaddr_in));
  EXPECT_EQ(SocketAddress::parse("0.0.0.0:65535")->toString(), "0.0.0.0:65535");
  EXPECT_EQ(SocketAddress::parse("127.0.0.1:0")->port(), 0);
}

TEST(SocketAddress, ParsesIpv6) {
  const auto address = SocketAddress::parse("[::1]:8080");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->family(), AF_INET6);
  EXPECT_EQ(address->port(), 8080);
  EXPECT_EQ(address->ip(), "::1");
  EXPECT_EQ(address->toString(), "[::1]:8080");
  EXPECT_EQ(address->length(), sizeof(sockaddr_in6));
  EXPECT_EQ(SocketAddress::parse("[2001:DB8:0:0::1]:443")->toString(), "[2001:db8::1]:443");
  EXPECT_EQ(SocketAddress::parse("[::]:80")->toString(), "[::]:80");
}

TEST(SocketAddress, RejectsMalformedInput) {
  for (const char* text : {"",
                           "1.2.3.4",
                           "1.2.3.4:",
                           ":80",
                           "1.2.3:80",
                           "1.2.3.4:65536",
                           "1.2.3.4:-1",
                           "1.2.3.4:+80",
                           "1.2.3.4:80x",
                           "1.2.3.4: 80",
                           "256.1.1.1:80",
                           "localhost:80",
                           "::1:80",
                           "[::1]",
                           "[::1]80",
                           "[::1:80",
                           "[]:80",
                           "[1.2.3.4]:80",
                           "[::1]:999999",
                           " 1.2.3.4:80"}) {
    EXPECT_EQ(SocketAddress::parse(text), std::nullopt) << text;
  }
}

TEST(SocketAddress, FromSockaddrRoundTrips) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(5000);
  inet_pton(AF_INET, "10.0.0.7", &sin.sin_addr);
  const auto address = SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
  EXPECT_EQ(address.toString(), "10.0.0.7:5000");
  EXPECT_EQ(address, *SocketAddress::parse("10.0.0.7:5000"));
}

TEST(SocketAddress, EqualityComparesFamilyAddressAndPort) {
  EXPECT_EQ(*SocketAddress::parse("1.2.3.4:80"), *SocketAddress::parse("1.2.3.4:80"));
  EXPECT_FALSE(*SocketAddress::parse("1.2.3.4:80") == *SocketAddress::parse("1.2.3.4:81"));
  EXPECT_FALSE(*SocketAddress::parse("1.2.3.4:80") == *SocketAddress::parse("1.2.3.5:80"));
  EXPECT_FALSE(*SocketAddress::parse("127.0.0.1:80") == *SocketAddress::parse("[::1]:80"));
  EXPECT_EQ(SocketAddress(), SocketAddress());
}

TEST(SocketAddress, DefaultIsEmpty) {
  const SocketAddress address;
  EXPECT_EQ(address.family(), AF_UNSPEC);
  EXPECT_EQ(address.port(), 0);
  EXPECT_EQ(address.ip(), "");
  EXPECT_EQ(address.toString(), "");
}

}  // namespace
}  // namespace tether::net
