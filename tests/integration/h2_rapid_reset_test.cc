// HTTP/2 Rapid Reset (CVE-2023-44487): a client that opens and at once resets thousands of streams gets
// GOAWAY(ENHANCE_YOUR_CALM); almost none of its requests reach the upstream; other clients keep being served.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/h2_client.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

TEST(H2RapidReset, StreamResetBeforeDispatchCreatesNoUpstreamWork) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  // HEADERS and RST_STREAM in one write: tether decodes both before it would dispatch the request.
  ASSERT_TRUE(client.send(h2frames::preface() + h2frames::getHeaders(1, "/never") + h2frames::rstStream(1) +
                          h2frames::getHeaders(3, "/served")));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  EXPECT_TRUE(tether.findLogLine({"\"request_completed\"", "/served"}, 30s));
  // Whatever tether sent has arrived once it has exited and the upstream has seen every connection close.
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 30s));
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/served");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_TRUE(tether.logLinesWith({"/never"}).empty());
}

TEST(H2RapidReset, OpenAndResetStormGetsGoawayAndSparesTheH1Upstream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 200ms;
    reply.body = "fine";
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client bystander;
  ASSERT_TRUE(bystander.connect(tether.port()));

  RawClient attacker;
  ASSERT_TRUE(attacker.connect(tether.port()));
  ASSERT_TRUE(attacker.send(h2frames::preface()));
  constexpr int kStreams = 5000;
  std::string server_bytes;
  int served_during_attack = 0;
  bool send_failed = false;
  for (int batch = 0; batch < kStreams / 100 && !send_failed; ++batch) {
    std::string burst;
    for (int i = 0; i < 100; ++i) {
      const int32_t id = 1 + 2 * (batch * 100 + i);
      burst += h2frames::getHeaders(id, "/attack");
      burst += h2frames::rstStream(id);
    }
    send_failed = !attacker.send(burst, 10s);
    readSome(attacker.fd(), server_bytes, -1, deadlineAfter(1ms));
    if (batch % 10 == 0) {
      const int32_t id = bystander.request("GET", "/bystander");
      if (bystander.waitClosed(id, 30s) && bystander.stream(id).status == 200) ++served_during_attack;
    }
  }
  const auto deadline = deadlineAfter(30s);
  while (!h2frames::findGoaway(server_bytes) && Clock::now() < deadline) {
    if (readSome(attacker.fd(), server_bytes, -1, deadline) != IoResult::kOk) break;
  }
  const auto goaway = h2frames::findGoaway(server_bytes);
  ASSERT_TRUE(goaway) << "no GOAWAY in " << server_bytes.size() << " bytes";
  EXPECT_EQ(*goaway, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(tether.findLogLine({"\"h2_rapid_reset\""}, 30s));
  {
    RawClient admin;
    ASSERT_TRUE(admin.connect(tether.adminPort()));
    ASSERT_TRUE(admin.send("GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"));
    const auto metrics = admin.readResponse(30s);
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("\ntether_h2_rapid_reset_goaways_total 1\n"), std::string::npos) << metrics->body;
    EXPECT_EQ(metrics->body.find("\ntether_h2_stream_resets_total 0\n"), std::string::npos) << metrics->body;
  }

  EXPECT_GE(served_during_attack, 1);
  const int32_t after = bystander.request("GET", "/after");
  ASSERT_TRUE(bystander.waitClosed(after, 30s));
  EXPECT_EQ(bystander.stream(after).status, 200);
  EXPECT_EQ(bystander.stream(after).body, "fine");

  int attack_requests = 0;
  for (const auto& r : upstream.requests()) attack_requests += r.target == "/attack" ? 1 : 0;
  EXPECT_LE(attack_requests, 10) << "the upstream saw at most a handful of the reset requests";
  EXPECT_LE(upstream.acceptedConnections(), 10 + served_during_attack + 1);
}

}  // namespace
}  // namespace tether::testing
