#include "demo/demo_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace tether::demo {

void logLine(std::string_view request_id, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::printf("%s.%03lldZ [%.*s] %.*s\n", stamp, static_cast<long long>(millis), static_cast<int>(request_id.size()),
              request_id.data(), static_cast<int>(message.size()), message.data());
  std::fflush(stdout);
}

}  // namespace tether::demo
