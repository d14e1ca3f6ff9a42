#include "example_app.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "output_lines.h"
#include "support/tether_fixture.h"

namespace tether::testing {

ExampleApp::ExampleApp(std::vector<std::string> argv) : process_(std::move(argv)) {
  const auto listening = waitForLinesWith(process_, {" listening "}, 1);
  if (listening.empty()) {
    ADD_FAILURE() << "the example app did not start:\n" << process_.output();
    return;
  }
  port_ = static_cast<uint16_t>(std::stoi(fields(listening[0]).at(2)));
}

ExampleApp::~ExampleApp() { process_.stop(); }

std::optional<std::string> ExampleApp::waitFor(std::string_view event, std::string_view id) const {
  const auto found = waitForLinesWith(process_, {" " + std::string(event) + " id=" + std::string(id) + " "}, 1);
  if (found.empty()) return std::nullopt;
  return found.front();
}

size_t ExampleApp::count(std::string_view event, std::string_view id) const {
  return linesWith(process_.output(), {" " + std::string(event) + " id=" + std::string(id) + " "}).size();
}

std::optional<int64_t> utcMillis(std::string_view timestamp) {
  std::tm tm{};
  int millis = 0;
  const std::string text(timestamp);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

std::optional<std::string> appField(const std::string& line, std::string_view key) {
  const std::string needle = " " + std::string(key) + "=";
  const size_t at = line.find(needle);
  if (at == std::string::npos) return std::nullopt;
  const size_t from = at + needle.size();
  return line.substr(from, line.find(' ', from) - from);
}

std::optional<int64_t> millisBetween(const JsonValue& event, const std::string& app_line) {
  const auto tether_ts = event.str("ts");
  if (!tether_ts) return std::nullopt;
  const auto from = utcMillis(*tether_ts);
  const auto to = utcMillis(fields(app_line).at(0));
  if (!from || !to) return std::nullopt;
  return *to - *from;
}

std::string missingFiles(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    if (access(path.c_str(), R_OK) != 0) return "not found (not installed or not built): " + path;
  }
  return {};
}

}  // namespace tether::testing
