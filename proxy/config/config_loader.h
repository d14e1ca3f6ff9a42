#pragma once

// Loads and validates the YAML config file into an immutable Config snapshot, collecting every problem
// (with file:line:column and key path) rather than stopping at the first.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/config_error.h"

namespace tether::config {

struct LoadResult {
  std::shared_ptr<const Config> config;  // null unless errors is empty
  std::vector<ConfigError> errors;

  bool ok() const { return config != nullptr && errors.empty(); }
};

// Both resolve endpoint host names with getaddrinfo, so they block: call them from the main thread only,
// never from an event loop.
LoadResult loadConfigFile(const std::string& path);
LoadResult loadConfigString(std::string_view yaml, const std::string& file_name_for_errors);

}  // namespace tether::config
