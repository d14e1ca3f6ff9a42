#include "aspnetcore_app.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <thread>

#include "output_lines.h"
#include "support/any_client.h"

namespace tether::testing {
namespace {

std::vector<std::string> appArgv(std::vector<std::string> extra_args) {
  std::vector<std::string> argv{TETHER_DOTNET, TETHER_ASPNETCORE_APP, "0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return argv;
}

}  // namespace

std::string AspNetCoreApp::missing() {
  if (access(TETHER_DOTNET, X_OK) != 0) return "dotnet not found at configure time";
  if (access(TETHER_ASPNETCORE_APP, R_OK) != 0) return std::string("not built: ") + TETHER_ASPNETCORE_APP;
  return {};
}

AspNetCoreApp::AspNetCoreApp(std::vector<std::string> extra_args) : process_(appArgv(std::move(extra_args))) {
  const std::string prefix = "listening http://127.0.0.1:";
  if (!process_.waitForOutput(prefix)) {
    ADD_FAILURE() << "the ASP.NET Core app did not start:\n" << process_.output();
    return;
  }
  const std::vector<std::string> listening = linesWith(process_.output(), {prefix});
  port_ = static_cast<uint16_t>(std::stoi(listening.front().substr(listening.front().find(prefix) + prefix.size())));
  warmUp();
}

void AspNetCoreApp::warmUp() {
  // /deadline with a budget of 0 gives up at once; ms=0 and steps=0 return at once.
  const std::vector<std::pair<std::string, HeaderList>> requests{
      {"/hello", {}},
      {"/slowtest?ms=0", {}},
      {"/slowtest-loop?steps=0", {}},
      {"/downstream?ms=0", {}},
      {"/deadline", {{"x-request-timeout-ms", "0"}}},
  };
  int n = 0;
  for (const auto& [path, headers] : requests) {
    AnyClient client(ClientProtocol::kH1);
    HeaderList with_id = headers;
    with_id.emplace_back("x-request-id", "warm-up-" + std::to_string(++n));
    if (!client.connect(port_) || !client.request("GET", path, with_id) || !client.readResponse()) {
      ADD_FAILURE() << "warm-up request " << path << " failed:\n" << process_.output();
      return;
    }
  }
}

std::vector<std::string> AspNetCoreApp::lines(std::string_view message, std::string_view request_id) const {
  const std::string field = "request_id=" + std::string(request_id);
  std::vector<std::string> found;
  for (std::string& line : linesWith(process_.output(), {std::string(message), field})) {
    for (const std::string& f : fields(line)) {
      if (f == field) {
        found.push_back(std::move(line));
        break;
      }
    }
  }
  return found;
}

std::optional<std::string> AspNetCoreApp::waitForLine(std::string_view message, std::string_view request_id,
                                                      std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> found = lines(message, request_id);
    if (!found.empty()) return found.front();
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // between polls only
  }
}

std::optional<int64_t> isoMillis(std::string_view text) {
  std::tm tm{};
  int ms = 0;
  const std::string head(text.substr(0, 24));
  if (std::sscanf(head.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace tether::testing
