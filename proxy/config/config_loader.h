#pragma once

// Loads and validates the YAML config file into an immutable Config snapshot, collecting every problem
// (with file:line:column and key path) rather than stopping at the first.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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

// What a config may cost to load, whatever its text: a hostile or generated file is refused with an error rather than
// allowed to take the memory or time it asks for (config/reference.yaml, "Limits of the file itself").
inline constexpr size_t kMaxConfigFileBytes = 4 * 1024 * 1024;
// Values (scalars, lists, mappings) in the document with every alias counted as the values it repeats: what the
// loader visits and copies. Bounds YAML "billion laughs" amplification; the scalar text, aliases expanded, is held
// to kMaxConfigFileBytes as well.
inline constexpr uint64_t kMaxConfigNodes = 200'000;

struct LoadOptions {
  // Endpoint host names go through getaddrinfo; false accepts only numeric addresses (the fuzz target: no DNS).
  bool resolve_host_names = true;
};

// Both resolve endpoint host names with getaddrinfo, so they block: call them from the main thread only,
// never from an event loop. loadConfigFile refuses anything but a regular file (without blocking on a FIFO) and
// files above kMaxConfigFileBytes.
LoadResult loadConfigFile(const std::string& path, const LoadOptions& options = {});
LoadResult loadConfigString(std::string_view yaml, const std::string& file_name_for_errors,
                            const LoadOptions& options = {});

// Why `path` cannot be read as a regular file (missing, unreadable, a FIFO, a directory...), or nothing. Never
// blocks: files named by the config (TLS certificate and key) are checked with it before OpenSSL opens them.
std::optional<std::string> regularFileError(const std::string& path);

}  // namespace tether::config
