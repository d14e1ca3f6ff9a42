#pragma once

// The log section of the configuration. It lives here, below config/, so the log needs nothing from the layers
// above it; config::Log names this type.

#include <cstddef>
#include <string>

namespace tether::log {

struct LogSettings {
  enum class Format { Json } format = Format::Json;
  enum class Sink { Stdout, Stderr, File } sink = Sink::Stdout;
  std::string path;  // for Sink::File
  enum class Level { Debug, Info, Warn, Error } level = Level::Info;
  bool access_log = true;      // request_completed events
  bool include_query = false;  // log the query string in `path` (it may carry tokens or personal data)
  size_t queue_lines = 8192;   // per worker; beyond it lines are dropped and counted
};

}  // namespace tether::log
