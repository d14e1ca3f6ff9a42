// AdminServer in-process: /readyz follows setReady (503 before the workers run and while draining), the routes
// answer with their content types, unknown paths are 404, other methods 405, and stop() releases the port.
#include <arpa/inet.h>
#include <event2/thread.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "admin/admin_server.h"
#include "metrics/metrics_registry.h"
#include "metrics/route_metrics.h"

namespace tether::admin {
namespace {

uint16_t freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// One request with Connection: close; the whole raw response, empty on failure.
std::string request(uint16_t port, const std::string& method, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string text = method + " " + path + " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n";
    if (send(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size())) {
      char buffer[4096];
      for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return response;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static const bool threads = evthread_use_pthreads() == 0;  // stop() wakes the loop from this thread
    ASSERT_TRUE(threads);
    auto config = std::make_shared<config::Config>();
    port_ = freePort();
    config->admin.address = *net::SocketAddress::parse("127.0.0.1:" + std::to_string(port_));
    config->routes.resize(1);
    config->routes[0].name = "only";
    config_ = config;
    registry_ = std::make_unique<metrics::MetricsRegistry>(std::vector<const metrics::WorkerMetrics*>{});
    registry_->addSnapshot(*config_, {std::make_shared<metrics::RouteMetrics>(1, 0)});
    server_ = std::make_unique<AdminServer>(config_, *registry_, [] { return metrics::ProcessCounters{}; });
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << error;
  }

  uint16_t port_ = 0;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<metrics::MetricsRegistry> registry_;
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, ReadyzFollowsSetReady) {
  EXPECT_EQ(request(port_, "GET", "/readyz").rfind("HTTP/1.1 503", 0), 0u) << "not ready until told";
  server_->setReady(true);
  EXPECT_EQ(request(port_, "GET", "/readyz").rfind("HTTP/1.1 200", 0), 0u);
  server_->setReady(false);  // draining
  EXPECT_EQ(request(port_, "GET", "/readyz").rfind("HTTP/1.1 503", 0), 0u);
  EXPECT_EQ(request(port_, "GET", "/healthz").rfind("HTTP/1.1 200", 0), 0u) << "alive while draining";
}

TEST_F(AdminServerTest, RoutesMethodsAndContentTypes) {
  const std::string metrics = request(port_, "GET", "/metrics?x=1");
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("tether_cancelled_upstream_seconds_total{route=\"only\"} 0"), std::string::npos);
  const std::string config = request(port_, "GET", "/config");
  EXPECT_NE(config.find("Content-Type: application/json"), std::string::npos) << config;
  EXPECT_NE(config.find("\"routes\":[{\"name\":\"only\""), std::string::npos) << config;
  EXPECT_EQ(request(port_, "GET", "/cancellations").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(request(port_, "GET", "/").rfind("HTTP/1.1 404", 0), 0u);
  const std::string post = request(port_, "POST", "/metrics");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET"), std::string::npos) << post;
  EXPECT_EQ(request(port_, "HEAD", "/healthz").rfind("HTTP/1.1 405", 0), 0u);
}

TEST_F(AdminServerTest, StopReleasesThePort) {
  server_->stop();
  EXPECT_EQ(request(port_, "GET", "/healthz"), "");
  AdminServer again(config_, *registry_, [] { return metrics::ProcessCounters{}; });
  std::string error;
  EXPECT_TRUE(again.start(&error)) << error;
}

}  // namespace
}  // namespace tether::admin
