#include "http/header_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tether::http {
namespace {

std::string names(const HeaderList& headers) {
  std::string out;
  for (const Header& h : headers) out += (out.empty() ? "" : ",") + h.name + "=" + h.value;
  return out;
}

TEST(HeaderRulesTest, HopByHopNames) {
  for (const char* name : {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Transfer-Encoding", "upgrade"}) {
    EXPECT_TRUE(isHopByHop(name)) << name;
  }
  for (const char* name :
       {"Trailer", "Proxy-Authenticate", "Proxy-Authorization", "Host", "Content-Length", "T", "Connections", ""}) {
    EXPECT_FALSE(isHopByHop(name)) << name;
  }
}

TEST(HeaderRulesTest, RemovesHopByHopAndConnectionListedFields) {
  HeaderList headers = {{"Host", "a"},
                        {"Connection", "keep-alive, X-Secret , close"},
                        {"Keep-Alive", "timeout=5"},
                        {"X-Secret", "1"},
                        {"TE", "trailers"},
                        {"Trailer", "X-Sum"},
                        {"Transfer-Encoding", "chunked"},
                        {"Proxy-Connection", "keep-alive"},
                        {"Proxy-Authorization", "Basic x"},
                        {"Upgrade", "websocket"},
                        {"x-secret", "2"},
                        {"Accept", "*/*"}};
  removeHopByHop(headers, false);
  EXPECT_EQ(names(headers), "Host=a,Trailer=X-Sum,Proxy-Authorization=Basic x,Accept=*/*");
}

TEST(HeaderRulesTest, ConnectionCannotRemoveHost) {
  HeaderList headers = {{"Host", "a"}, {"Connection", "Host, X-A"}, {"X-A", "1"}, {"X-B", "2"}};
  removeHopByHop(headers, false);
  EXPECT_EQ(names(headers), "Host=a,X-B=2");
}

TEST(HeaderRulesTest, KeepUpgradeKeepsUpgradeAndOneConnectionUpgrade) {
  HeaderList headers = {{"Host", "a"},           {"Connection", "keep-alive, Upgrade, X-Hop"},
                        {"X-Hop", "1"},          {"Upgrade", "websocket"},
                        {"Connection", "close"}, {"Sec-WebSocket-Key", "k"}};
  removeHopByHop(headers, true);
  EXPECT_EQ(names(headers), "Host=a,Connection=upgrade,Upgrade=websocket,Sec-WebSocket-Key=k");
}

TEST(HeaderRulesTest, KeepUpgradeAddsConnectionWhenOnlyUpgradeIsPresent) {
  HeaderList headers = {{"Upgrade", "websocket"}, {"Host", "a"}};
  removeHopByHop(headers, true);
  EXPECT_EQ(names(headers), "Upgrade=websocket,Host=a,Connection=upgrade");
}

TEST(HeaderRulesTest, KeepUpgradeWithoutUpgradeHeaderDropsConnection) {
  HeaderList headers = {{"Connection", "upgrade"}, {"Host", "a"}};
  removeHopByHop(headers, true);
  EXPECT_EQ(names(headers), "Host=a");
}

// A head with these fields, as the codec would leave it.
MessageHead headWith(HeaderList headers) {
  MessageHead head;
  head.headers = std::move(headers);
  return head;
}

TEST(HeaderRulesTest, ForwardingAddsHeaders) {
  MessageHead head = headWith({{"Host", "example.com"}});
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "example.com", "abc123"});
  EXPECT_EQ(names(head.headers),
            "Host=example.com,X-Forwarded-Host=example.com,X-Forwarded-For=10.0.0.1,X-Forwarded-Proto=http,"
            "X-Request-Id=abc123");
}

TEST(HeaderRulesTest, ForwardingAppendsToTheLastForwardedForAndReplacesTheRest) {
  MessageHead head = headWith({{"x-forwarded-for", "1.1.1.1"},
                               {"X-Forwarded-Proto", "https"},
                               {"X-Forwarded-For", "2.2.2.2, 3.3.3.3"},
                               {"X-Forwarded-Proto", "ftp"},
                               {"X-Forwarded-Host", "evil"},
                               {"X-Request-Id", "client-id"},
                               {"Host", "h"}});
  applyRequestForwarding(head, ForwardingInfo{"::1", "http", "h", "client-id"});
  EXPECT_EQ(names(head.headers),
            "x-forwarded-for=1.1.1.1,X-Forwarded-Proto=http,X-Forwarded-For=2.2.2.2, 3.3.3.3, ::1,"
            "X-Forwarded-Host=h,X-Request-Id=client-id,Host=h");
}

TEST(HeaderRulesTest, ForwardingWithEmptyForwardedForValue) {
  MessageHead head = headWith({{"X-Forwarded-For", ""}});
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "", ""});
  EXPECT_EQ(names(head.headers), "X-Forwarded-For=10.0.0.1,X-Forwarded-Proto=http");
}

TEST(HeaderRulesTest, ForwardingWithoutHostRemovesForwardedHost) {
  MessageHead head = headWith({{"X-Forwarded-Host", "a"}, {"X-Forwarded-Host", "b"}});
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "", "id"});
  EXPECT_EQ(names(head.headers), "X-Forwarded-For=10.0.0.1,X-Forwarded-Proto=http,X-Request-Id=id");
}

// A route with `forwarding: {x_forwarded: false}` keeps the client's X-Forwarded-* fields as they came; the request id
// is still set (and a duplicate from the client dropped).
TEST(HeaderRulesTest, ForwardingWithoutXForwardedSetsOnlyTheRequestId) {
  MessageHead head = headWith({{"X-Forwarded-For", "1.2.3.4"}, {"X-Request-Id", "a"}, {"X-Request-Id", "b"}});
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "example.com", "id", false});
  EXPECT_EQ(names(head.headers), "X-Forwarded-For=1.2.3.4,X-Request-Id=id");
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "example.com", "", false});
  EXPECT_EQ(names(head.headers), "X-Forwarded-For=1.2.3.4,X-Request-Id=id");
}

// The session passes the Host value as a view into the same list: growing or compacting the list must not break it.
TEST(HeaderRulesTest, ForwardingHostMayPointIntoTheHeaders) {
  for (const std::string& host : {std::string("short.host"), std::string(100, 'h')}) {
    MessageHead head = headWith({{"X-Forwarded-Host", "a"}, {"X-Forwarded-Host", "b"}, {"Host", host}});
    head.headers.shrink_to_fit();
    const std::string_view view = head.headers[2].value;
    applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", view, "id"});
    ASSERT_EQ(head.headers[0].name, "X-Forwarded-Host");
    EXPECT_EQ(head.headers[0].value, host);

    MessageHead fresh = headWith({{"Host", host}});
    fresh.headers.shrink_to_fit();
    applyRequestForwarding(fresh, ForwardingInfo{"10.0.0.1", "http", fresh.headers[0].value, "id"});
    EXPECT_EQ(fresh.headers[1].value, host);
  }
}

// On a keep-alive connection the forwarding fields of the next request reuse the buffers of the previous ones.
TEST(HeaderRulesTest, ForwardingReusesTheBuffersOfClearedFields) {
  MessageHead head = headWith({{"Host", "example.com"}});
  const std::string id(40, 'i');  // longer than the small-string buffer: heap-allocated
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "example.com", id});
  const Header* request_id = nullptr;
  for (const Header& h : head.headers) request_id = h.name == "X-Request-Id" ? &h : request_id;
  ASSERT_NE(request_id, nullptr);
  const char* buffer = request_id->value.data();
  head.clear();
  head.appendHeader("Host", "example.com");  // what the codec parses next, through the same spare list
  applyRequestForwarding(head, ForwardingInfo{"10.0.0.1", "http", "example.com", id});
  bool reused = false;
  for (const Header& h : head.headers) reused = reused || h.value.data() == buffer;
  EXPECT_TRUE(reused);
}

TEST(HeaderRulesTest, AbsoluteFormTargetsBecomeOriginForm) {
  for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
           {"http://h/p?q", "/p?q"}, {"http://h", "/"}, {"http://h?q", "/?q"}, {"/already", "/already"}, {"*", "*"}}) {
    std::string target = in;
    toOriginForm(target);
    EXPECT_EQ(target, out) << in;
  }
}

TEST(HeaderRulesTest, SetRequestIdLeavesExactlyOne) {
  MessageHead head = headWith({{"x-request-id", "a"}, {"Other", "1"}, {"X-Request-Id", "b"}});
  setRequestId(head, "mine");
  EXPECT_EQ(names(head.headers), "x-request-id=mine,Other=1");
  MessageHead none = headWith({{"Other", "1"}});
  setRequestId(none, "mine");
  EXPECT_EQ(names(none.headers), "Other=1,X-Request-Id=mine");
}

}  // namespace
}  // namespace tether::http
