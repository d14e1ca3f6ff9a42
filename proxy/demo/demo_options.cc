#include "demo/demo_options.h"

#include <charconv>

namespace tether::demo {

std::optional<uint64_t> parseUnsigned(const std::string& text, uint64_t max) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value > max) return std::nullopt;
  return value;
}

std::optional<std::pair<std::string, uint16_t>> splitHostPort(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  const auto port = parseUnsigned(text.substr(colon + 1), 65535);
  if (!port) return std::nullopt;
  return std::make_pair(host, static_cast<uint16_t>(*port));
}

std::string demoUsage() {
  return "usage: tether-demo-upstream [--listen HOST:PORT] [--h2c-listen HOST:PORT] [--slow-ms N] [--slice-ms N]\n"
         "\n"
         "A small HTTP/1.1 (and h2c) upstream that notices when its client leaves.\n"
         "  --listen HOST:PORT      address to serve on (default 127.0.0.1:5000; port 0 = any)\n"
         "  --h2c-listen HOST:PORT  also serve h2c (prior knowledge) there: GET /slowtest and /fast; a cancelled\n"
         "                          request is a reset stream (RST_STREAM), the connection stays\n"
         "  --slow-ms N             work time of GET /slowtest (default 10000)\n"
         "  --slice-ms N            how often slow work checks its client (default 50)\n"
         "\n"
         "Endpoints:\n"
         "  GET  /slowtest[?ms=N]  works N ms, then 200; stops early if the client leaves\n"
         "  GET  /fast             200 \"ok\"\n"
         "  POST /echo             echoes the request body\n"
         "  GET  /bytes?n=N        N bytes of body\n"
         "  GET  /healthz          200 \"ok\"\n";
}

namespace {

// Accepts both "--name value" and "--name=value".
bool takeValue(const std::vector<std::string>& args, size_t& i, const std::string& name, std::string& value) {
  const std::string& arg = args[i];
  if (arg == name) {
    if (i + 1 >= args.size()) return false;
    value = args[++i];
    return true;
  }
  if (arg.rfind(name + "=", 0) == 0) {
    value = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

}  // namespace

std::optional<DemoOptions> parseDemoOptions(const std::vector<std::string>& args, std::string& error) {
  DemoOptions options;
  auto fail = [&](std::string message) -> std::optional<DemoOptions> {
    error = std::move(message);
    return std::nullopt;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string value;
    if (args[i] == "--help" || args[i] == "-h") {
      options.help = true;
    } else if (takeValue(args, i, "--listen", value)) {
      auto parts = splitHostPort(value);
      if (!parts) return fail("invalid --listen address: " + value);
      options.host = parts->first;
      options.port = parts->second;
    } else if (takeValue(args, i, "--h2c-listen", value)) {
      auto parts = splitHostPort(value);
      if (!parts) return fail("invalid --h2c-listen address: " + value);
      options.h2c = true;
      options.h2c_host = parts->first;
      options.h2c_port = parts->second;
    } else if (takeValue(args, i, "--slow-ms", value)) {
      auto ms = parseUnsigned(value, 24 * 3600 * 1000);
      if (!ms) return fail("invalid --slow-ms: " + value);
      options.slow_duration = std::chrono::milliseconds(*ms);
    } else if (takeValue(args, i, "--slice-ms", value)) {
      auto ms = parseUnsigned(value, 60 * 1000);
      if (!ms || *ms == 0) return fail("invalid --slice-ms: " + value);
      options.slice = std::chrono::milliseconds(*ms);
    } else {
      return fail("unknown or incomplete argument: " + args[i]);
    }
  }
  return options;
}

}  // namespace tether::demo
