// Real HTTP/2 clients from Debian packages (curl, nghttp, h2load) against tether over h2c with prior knowledge.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/process.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

bool haveTool(const char* path) { return access(path, X_OK) == 0; }

std::string url(const TetherInstance& tether, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(tether.port()) + std::string(path);
}

TEST(H2RealClients, CurlPriorKnowledgeGetAndPost) {
  if (!haveTool("/usr/bin/curl")) GTEST_SKIP() << "curl not installed";
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = request.method + " " + std::to_string(request.body_bytes);
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  Process get({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", " proto=%{http_version}", url(tether, "/a")});
  ASSERT_EQ(get.waitExit(10s), 0) << get.output();
  get.waitForOutput("proto=2", 30s);  // the reader thread may still be draining the pipe after exit
  EXPECT_EQ(get.output(), "GET 0 proto=2");

  Process post({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "--data-binary", std::string(100000, 'x'),
                url(tether, "/b")});
  ASSERT_EQ(post.waitExit(10s), 0) << post.output();
  post.waitForOutput("POST 100000", 30s);
  EXPECT_EQ(post.output(), "POST 100000");
}

TEST(H2RealClients, NghttpGet) {
  if (!haveTool("/usr/bin/nghttp")) GTEST_SKIP() << "nghttp not installed";
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  Process nghttp({"/usr/bin/nghttp", "-v", url(tether, "/n")});
  ASSERT_EQ(nghttp.waitExit(10s), 0) << nghttp.output();
  nghttp.waitForOutput(":status: 200", 30s);
  EXPECT_NE(nghttp.output().find(":status: 200"), std::string::npos) << nghttp.output();
  EXPECT_NE(nghttp.output().find("ok"), std::string::npos);
}

TEST(H2RealClients, CurlKilledMidRequestCancelsH1Upstream) {
  if (!haveTool("/usr/bin/curl")) GTEST_SKIP() << "curl not installed";
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;  // cancelled long before
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  Process curl({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", url(tether, "/slow")});
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  curl.stop(SIGKILL);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  EXPECT_TRUE(tether.findLogLine({"\"request_cancelled\"", "\"protocol\":\"h2c\""}, 30s));
}

TEST(H2RealClients, H2loadSmokeRunHasNoErrors) {
  if (!haveTool("/usr/bin/h2load")) GTEST_SKIP() << "h2load not installed";
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  Process h2load({"/usr/bin/h2load", "-n", "200", "-c", "4", "-m", "10", url(tether, "/load")});
  ASSERT_EQ(h2load.waitExit(60s), 0) << h2load.output();
  h2load.waitForOutput("2xx", 30s);
  EXPECT_NE(h2load.output().find("200 succeeded, 0 failed, 0 errored"), std::string::npos) << h2load.output();
  EXPECT_NE(h2load.output().find("200 2xx"), std::string::npos) << h2load.output();
}

}  // namespace
}  // namespace tether::testing
