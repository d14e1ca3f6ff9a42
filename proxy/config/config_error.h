#pragma once

#include <string>

namespace tether::config {

// One problem found while loading a config file. line/column are 1-based; 0 means "no position" (e.g. the
// file could not be opened). key_path names the offending key, e.g. "routes[1].match.path_prefix".
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key_path;
  std::string message;

  // "file:line:col: key.path: message"; the position and/or key path are left out when unknown.
  std::string toString() const {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
    if (!key_path.empty()) out += key_path + ": ";
    return out + message;
  }
};

}  // namespace tether::config
