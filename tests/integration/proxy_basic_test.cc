// The real tether binary in front of an in-process TestUpstream over loopback: pass-through,
// forwarding headers, request ids, hop-by-hop headers, keep-alive and pooling, pipelining, HEAD,
// upgrades, endpoint retry, several workers and the access log.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// The response, or an empty one (status 0) after recording a failure.
RawClient::Response nextResponse(RawClient& client, std::chrono::milliseconds timeout = 5s, bool head = false) {
  auto response = client.readResponse(timeout, head);
  EXPECT_TRUE(response) << "no response";
  return response.value_or(RawClient::Response{});
}

RawClient::Response roundTrip(uint16_t port, const std::string& request) {
  RawClient client;
  EXPECT_TRUE(client.connect(port));
  EXPECT_TRUE(client.send(request));
  return nextResponse(client);
}

TEST(ProxyBasic, H1ClientH1Upstream_GetPassesStatusBodyAndHeaders) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.status = 201;
    reply.headers = {{"X-Upstream", "yes"}, {"Cache-Control", "no-store"}};
    reply.body = "hello from upstream";
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send("GET /api/items?q=1 HTTP/1.1\r\nHost: example.test\r\nAccept: text/plain\r\n\r\n"));
  const auto response = nextResponse(client);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.reason, "Created");
  EXPECT_EQ(response.body, "hello from upstream");
  EXPECT_EQ(response.header("X-Upstream"), "yes");
  EXPECT_EQ(response.header("Cache-Control"), "no-store");
  EXPECT_EQ(response.header("Content-Length"), "19");

  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/api/items?q=1");
  EXPECT_EQ(requests[0].version, "HTTP/1.1");
  EXPECT_EQ(requests[0].header("Host"), "example.test");
  EXPECT_EQ(requests[0].header("Accept"), "text/plain");
}

TEST(ProxyBasic, H1ClientH1Upstream_AddsForwardingHeadersAndGeneratedRequestId) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  const auto response = roundTrip(tether.port(), "GET /x HTTP/1.1\r\nHost: example.test:8443\r\n\r\n");
  EXPECT_EQ(response.status, 200);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& seen = requests[0];
  EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(seen.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(seen.header("X-Forwarded-Host"), "example.test:8443");
  const auto id = seen.header("X-Request-Id");
  ASSERT_TRUE(id);
  EXPECT_TRUE(isHex32(*id)) << *id;
  EXPECT_EQ(response.header("X-Request-Id"), id);

  // Every request gets its own id.
  const auto second = roundTrip(tether.port(), getRequest("/y"));
  ASSERT_TRUE(second.header("X-Request-Id"));
  EXPECT_TRUE(isHex32(*second.header("X-Request-Id")));
  EXPECT_NE(second.header("X-Request-Id"), id);
}

TEST(ProxyBasic, H1ClientH1Upstream_KeepsClientRequestId) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  const auto response = roundTrip(tether.port(), getRequest("/x", "X-Request-Id: client-id-42\r\n"));
  EXPECT_EQ(response.status, 200);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header("X-Request-Id"), "client-id-42");
  EXPECT_EQ(response.header("X-Request-Id"), "client-id-42");
  // Exactly one X-Request-Id each way.
  int count = 0;
  for (const auto& [name, value] : requests[0].headers) count += equalsIgnoreCase(name, "X-Request-Id");
  EXPECT_EQ(count, 1);
  count = 0;
  for (const auto& [name, value] : response.headers) count += equalsIgnoreCase(name, "X-Request-Id");
  EXPECT_EQ(count, 1);
}

// `forwarding: {x_forwarded: false, request_id: false}`: the request reaches the upstream as the client sent it and
// the response carries no X-Request-Id tether made up; the log still has the id. The default route next to it adds
// everything, so the switch is per route.
TEST(ProxyBasic, H1ClientH1Upstream_ForwardingOffAddsNoFields) {
  TestUpstream upstream;
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("plain", "{path_prefix: /plain/}", "backend",
                {{"forwarding", "{x_forwarded: false, request_id: false}"}})
      .addRoute("all", "{path_prefix: /}", "backend");
  TetherInstance tether(options);

  const auto response = roundTrip(tether.port(), getRequest("/plain/a", "X-Forwarded-For: 10.1.2.3\r\n"));
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.header("X-Request-Id"));
  const auto passed = roundTrip(tether.port(), getRequest("/plain/b", "X-Request-Id: client-7\r\n"));
  EXPECT_FALSE(passed.header("X-Request-Id"));  // the test upstream does not echo it
  const auto defaults = roundTrip(tether.port(), getRequest("/other"));
  EXPECT_TRUE(defaults.header("X-Request-Id"));

  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].header("X-Forwarded-For"), "10.1.2.3");  // not appended to
  EXPECT_FALSE(requests[0].header("X-Forwarded-Proto"));
  EXPECT_FALSE(requests[0].header("X-Forwarded-Host"));
  EXPECT_FALSE(requests[0].header("X-Request-Id"));
  EXPECT_EQ(requests[1].header("X-Request-Id"), "client-7");  // the client's, as it came
  EXPECT_FALSE(requests[1].header("X-Forwarded-For"));
  EXPECT_EQ(requests[2].header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_TRUE(requests[2].header("X-Request-Id"));
  // The log keeps its request id for the routes without the field.
  EXPECT_TRUE(tether.findLogLine({"\"request_completed\"", "\"request_id\":\"client-7\"", "\"route\":\"plain\""}, 30s));
}

TEST(ProxyBasic, H1ClientH1Upstream_StripsHopByHopHeadersBothWays) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.headers = {{"Keep-Alive", "timeout=5"}, {"Connection", "x-y"}, {"X-Y", "1"}, {"X-End-To-End", "kept"}};
    reply.body = "ok";
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/hop",
                                     "Connection: x-custom, keep-alive\r\nX-Custom: 1\r\nKeep-Alive: 5\r\n"
                                     "TE: trailers\r\nProxy-Connection: x\r\nX-Kept: yes\r\n")));
  const auto response = nextResponse(client);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");

  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& seen = requests[0];
  for (const char* name : {"X-Custom", "Keep-Alive", "TE", "Proxy-Connection"}) {
    EXPECT_FALSE(seen.header(name)) << name << " reached the upstream: " << *seen.header(name);
  }
  EXPECT_FALSE(headerHasToken(seen.headers, "Connection", "x-custom"));
  EXPECT_EQ(seen.header("X-Kept"), "yes");

  EXPECT_FALSE(response.header("Keep-Alive")) << *response.header("Keep-Alive");
  EXPECT_FALSE(response.header("X-Y")) << "X-Y, named by the upstream's Connection header, reached the client";
  EXPECT_FALSE(headerHasToken(response.headers, "Connection", "x-y"));
  EXPECT_EQ(response.header("X-End-To-End"), "kept");

  // The client's keep-alive still holds.
  ASSERT_TRUE(client.send(getRequest("/again")));
  EXPECT_EQ(nextResponse(client).status, 200);
}

TEST(ProxyBasic, H1ClientH1Upstream_KeepAliveReusesUpstreamConnection) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "body of " + request.target;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}).withWorkers(1));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.send(getRequest("/seq/" + std::to_string(i))));
    const auto response = nextResponse(client);
    ASSERT_EQ(response.status, 200) << "request " << i;
    EXPECT_EQ(response.body, "body of /seq/" + std::to_string(i));
  }
  client.close();
  for (int c = 0; c < 5; ++c) {
    RawClient other;
    ASSERT_TRUE(other.connect(tether.port()));
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(other.send(getRequest("/conn/" + std::to_string(c))));
      EXPECT_EQ(nextResponse(other).body, "body of /conn/" + std::to_string(c));
    }
  }
  EXPECT_EQ(upstream.requestsServed(), 30);
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  const auto requests = upstream.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().connection, 1)
      << "Connection header sent upstream: " << requests.back().header("Connection").value_or("(none)");
}

TEST(ProxyBasic, H1ClientH1Upstream_IdleUpstreamConnectionsBeyondTheCapAreClosed) {
  TestUpstream upstream;
  // Each request is answered once all three are at the upstream (an event, not a delay): they overlap, so
  // they take three upstream connections.
  upstream.setHandler([&upstream](const RecordedRequest& request) {
    Reply reply;
    if (request.target.rfind("/burst/", 0) == 0) upstream.waitForRequests(3, 60s);
    reply.body = "ok";
    return reply;
  });
  TetherInstance tether(
      TetherOptions::proxyTo({upstream.address()}, {{"max_idle_connections_per_endpoint", "1"}}).withWorkers(1));
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawClient>());
    ASSERT_TRUE(clients.back()->connect(tether.port()));
    ASSERT_TRUE(clients.back()->send(getRequest("/burst/" + std::to_string(i))));
  }
  for (auto& client : clients) EXPECT_EQ(nextResponse(*client).status, 200);
  EXPECT_EQ(upstream.acceptedConnections(), 3);
  // Only one of the three is kept for reuse: the other two are closed as they are released.
  EXPECT_TRUE(upstream.waitForConnectionClosed(2, 30s));
  ASSERT_TRUE(clients[0]->send(getRequest("/again")));
  EXPECT_EQ(nextResponse(*clients[0]).status, 200);
  EXPECT_EQ(upstream.acceptedConnections(), 3);  // the kept one served it
  EXPECT_EQ(upstream.closedConnections(), 2);
}
// A pooled connection reused by several requests still closes at keepalive_idle_timeout after its last one: the
// idle timer of an earlier idle period is kept while the connection works (no timer add/delete per request), and
// when it fires early it is armed again for what is left of the current idle period.
TEST(ProxyBasic, H1ClientH1Upstream_ReusedPooledConnectionClosesAtTheIdleTimeout) {
  TestUpstream upstream;
  // Each answer takes half the idle timeout, so the second request's idle period starts well after the first's:
  // the timer armed for the first fires inside the second and must be armed again, not close and not give up.
  // (A slower machine only stretches the gaps; the close is still awaited as an event.)
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.body = "ok";
    reply.delay = 150ms;
    return reply;
  });
  TetherInstance tether(
      TetherOptions::proxyTo({upstream.address()}, {{"keepalive_idle_timeout", "300ms"}}).withWorkers(1));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send(getRequest("/reuse/" + std::to_string(i))));
    EXPECT_EQ(nextResponse(client).status, 200) << "request " << i;
  }
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  // The client stays connected: only tether's idle timer can close the upstream connection.
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 60s));
  EXPECT_EQ(waitForSampleAtMost(tether, "tether_upstream_connections{upstream=\"backend\",state=\"idle\"}", 0), 0);
  ASSERT_TRUE(client.send(getRequest("/after")));
  EXPECT_EQ(nextResponse(client).status, 200);
  EXPECT_EQ(upstream.acceptedConnections(), 2);
}

TEST(ProxyBasic, H1ClientH1Upstream_ConnectionCloseFromUpstreamIsNotReused) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.body = "ok";
    reply.close_after = true;  // adds "Connection: close" and closes
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(getRequest("/c" + std::to_string(i))));
    const auto response = nextResponse(client);
    EXPECT_EQ(response.status, 200) << "request " << i;
    EXPECT_EQ(response.body, "ok");
  }
  EXPECT_EQ(upstream.acceptedConnections(), 3);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].connection, 3);
}

TEST(ProxyBasic, H1ClientH1Upstream_IdleConnectionClosedByUpstreamIsNotReused) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    // A keep-alive response (no Connection: close), after which the upstream closes the idle connection.
    reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    reply.close_after = true;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(getRequest("/idle" + std::to_string(i))));
    const auto response = nextResponse(client);
    EXPECT_EQ(response.status, 200) << "request " << i;
    EXPECT_EQ(response.body, "ok");
    // Wait until tether has seen the FIN on the pooled connection: it no longer counts it idle.
    ASSERT_TRUE(upstream.waitForConnectionClosed(i + 1, 30s));
    EXPECT_EQ(waitForSampleAtMost(tether, "tether_upstream_connections{upstream=\"backend\",state=\"idle\"}", 0), 0);
  }
  EXPECT_EQ(upstream.acceptedConnections(), 3);
}

TEST(ProxyBasic, H1ClientH1Upstream_PipelinedRequestsAnsweredInOrder) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "body of " + request.target;
    if (request.target == "/one") reply.delay = 200ms;  // the first answer is the slowest
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/one") + getRequest("/two") + getRequest("/three")));
  for (const char* path : {"/one", "/two", "/three"}) {
    const auto response = nextResponse(client);
    EXPECT_EQ(response.status, 200) << path;
    EXPECT_EQ(response.body, std::string("body of ") + path);
  }
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/one");
  EXPECT_EQ(requests[1].target, "/two");
  EXPECT_EQ(requests[2].target, "/three");
}

TEST(ProxyBasic, H1ClientH1Upstream_HeadResponseHasLengthButNoBody) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = request.method == "HEAD" ? "0123456789" : "after head";  // HEAD: length 10, no body sent
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send("HEAD /doc HTTP/1.1\r\nHost: test\r\n\r\n"));
  const auto head = nextResponse(client, 5s, /*head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "10");
  EXPECT_FALSE(head.header("Transfer-Encoding"));
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(upstream.requests().at(0).method, "HEAD");

  // No stray body bytes: the next response on this connection parses cleanly.
  ASSERT_TRUE(client.send(getRequest("/doc")));
  const auto response = nextResponse(client);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "after head");
  EXPECT_EQ(client.recvSome(200ms), "");
}

TEST(ProxyBasic, H1ClientH1Upstream_UpgradeRelaysBytesBothWays) {
  TestUpstream upstream;  // default handler: 101 for requests with Upgrade, then echo
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n")));
  const auto response = nextResponse(client);
  ASSERT_EQ(response.status, 101);
  EXPECT_EQ(response.header("Upgrade"), "websocket");
  EXPECT_TRUE(headerHasToken(response.headers, "Connection", "upgrade"));
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header("Upgrade"), "websocket");
  EXPECT_TRUE(headerHasToken(requests[0].headers, "Connection", "upgrade"));

  for (const std::string& message :
       {std::string("ping\x01\x02", 6), std::string("\0binary\xff", 8), std::string(100000, 'w')}) {
    ASSERT_TRUE(client.send(message));
    std::string echoed;
    while (echoed.size() < message.size()) {
      const std::string more = client.recvSome(2s);
      if (more.empty()) break;
      echoed += more;
    }
    EXPECT_TRUE(echoed == message) << "echoed " << echoed.size() << " of " << message.size() << " bytes";
  }
}

TEST(ProxyBasic, H1ClientH1Upstream_UpgradeClientCloseClosesUpstream) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n")));
  ASSERT_EQ(nextResponse(client).status, 101);
  ASSERT_TRUE(client.send("hi"));
  EXPECT_EQ(client.recvSome(2s), "hi");
  client.close();
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
}

TEST(ProxyBasic, H1ClientH1Upstream_UpgradeUpstreamCloseClosesClient) {
  auto upstream = std::make_unique<TestUpstream>();
  TetherInstance tether(TetherOptions::proxyTo({upstream->address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n")));
  ASSERT_EQ(nextResponse(client).status, 101);
  ASSERT_TRUE(client.send("hi"));
  EXPECT_EQ(client.recvSome(2s), "hi");
  upstream.reset();  // closes every upstream connection
  EXPECT_TRUE(client.waitClosed(2s));
}

TEST(ProxyBasic, H1ClientH1Upstream_RetriesNextEndpointWhenFirstRefuses) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.body = "ok";
    reply.close_after = true;  // every request needs a new upstream connection, so each one picks an endpoint
    return reply;
  });
  const std::string refused = "127.0.0.1:" + std::to_string(freePort());
  TetherInstance tether(TetherOptions::proxyTo({refused, upstream.address()}, {{"failure_backoff", "0"}}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.send(getRequest("/r" + std::to_string(i))));
    const auto response = nextResponse(client);
    EXPECT_EQ(response.status, 200) << "request " << i << ": " << response.body;
  }
  EXPECT_EQ(upstream.requestsServed(), 5);
}

TEST(ProxyBasic, H1ClientH1Upstream_TwoWorkersServeConcurrentClients) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "body of " + request.target;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}).withWorkers(2));
  // main thread + log writer + 2 workers (+ admin), all started before the `startup` line the fixture waits for.
  EXPECT_GE(threadCount(tether.pid()), 4) << "expected at least 2 worker threads";

  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RawClient client;
      for (int i = 0; i < kRequests; ++i) {
        if (i % 5 == 0 && !client.connect(tether.port())) {  // a new connection every 5 requests
          failures[t] = "connect failed";
          return;
        }
        const std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto response = client.send(getRequest(path)) ? client.readResponse(30s) : std::nullopt;
        if (!response || response->status != 200 || response->body != "body of " + path) {
          failures[t] = "request " + path + " failed: " +
                        (response ? std::to_string(response->status) + " " + response->body : "no response");
          return;
        }
        ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "client thread " << t;
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(upstream.requestsServed(), kThreads * kRequests);
}

TEST(ProxyBasic, H1ClientH1Upstream_AccessLogRecordsCompletedRequest) {
  TestUpstream upstream;
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()}).addRoute("api-route", "{path_prefix: /api/}", "backend");
  TetherInstance tether(options);

  const auto response = roundTrip(tether.port(), getRequest("/api/items?secret=1", "X-Request-Id: log-test-1\r\n"));
  EXPECT_EQ(response.status, 200);
  const auto line = tether.findLogLine({"\"request_completed\"", "log-test-1"}, 30s);
  ASSERT_TRUE(line) << "log:\n"
                    << [&] {
                         std::string all;
                         for (const auto& l : tether.logLines()) all += l + "\n";
                         return all;
                       }();
  EXPECT_NE(line->find("\"event\":\"request_completed\""), std::string::npos) << *line;
  EXPECT_NE(line->find("\"request_id\":\"log-test-1\""), std::string::npos) << *line;
  EXPECT_NE(line->find("\"status\":200"), std::string::npos) << *line;
  EXPECT_NE(line->find("\"route\":\"api-route\""), std::string::npos) << *line;
  EXPECT_NE(line->find("\"method\":\"GET\""), std::string::npos) << *line;
  EXPECT_NE(line->find("\"path\":\"/api/items\""), std::string::npos) << *line;
  EXPECT_EQ(line->find("secret"), std::string::npos) << "query string logged: " << *line;
  EXPECT_EQ(line->front(), '{');
  EXPECT_EQ(line->back(), '}');
}

}  // namespace
}  // namespace tether::testing
