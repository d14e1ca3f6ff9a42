#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tether::demo {

// Command line of tether-demo-upstream.
struct DemoOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;                            // 0 = ephemeral; the bound port is logged on start-up
  std::chrono::milliseconds slow_duration{10000};  // default work time of GET /slowtest
  std::chrono::milliseconds slice{50};             // how often slow work checks its client
  // The h2c side (`--h2c-listen`): off unless given.
  bool h2c = false;
  std::string h2c_host = "127.0.0.1";
  uint16_t h2c_port = 0;
  bool help = false;
};

// Parses argv (without argv[0]). On error returns nullopt and sets `error`.
std::optional<DemoOptions> parseDemoOptions(const std::vector<std::string>& args, std::string& error);

std::string demoUsage();

// Splits "host:port" / "[v6]:port" into its parts; nullopt if malformed.
std::optional<std::pair<std::string, uint16_t>> splitHostPort(const std::string& text);

// Parses a non-negative decimal integer no larger than `max`.
std::optional<uint64_t> parseUnsigned(const std::string& text, uint64_t max);

}  // namespace tether::demo
