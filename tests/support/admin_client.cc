#include "support/admin_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace tether::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::optional<RawClient::Response> adminRequest(uint16_t admin_port, std::string_view path, std::string_view method) {
  const auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    RawClient client;
    if (client.connect(admin_port, 5s) && client.send(std::string(method) + " " + std::string(path) +
                                                      " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")) {
      if (auto response = client.readResponse(10s)) return response;
    }
    std::this_thread::sleep_for(20ms);  // retry interval
  }
  return std::nullopt;
}

std::string scrape(const TetherInstance& tether) {
  const auto response = adminRequest(tether, "/metrics");
  EXPECT_TRUE(response);
  if (!response) return {};
  EXPECT_EQ(response->status, 200);
  return response->body;
}

double sampleValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return 0;
}

double waitForSample(const TetherInstance& tether, const std::string& series, double at_least) {
  const auto deadline = Clock::now() + 30s;
  double value = sampleValue(scrape(tether), series);
  while (value < at_least && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // poll interval
    value = sampleValue(scrape(tether), series);
  }
  return value;
}

double waitForSampleAtMost(const TetherInstance& tether, const std::string& series, double at_most) {
  const auto deadline = Clock::now() + 30s;
  double value = sampleValue(scrape(tether), series);
  while (value > at_most && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // poll interval
    value = sampleValue(scrape(tether), series);
  }
  return value;
}

}  // namespace tether::testing
