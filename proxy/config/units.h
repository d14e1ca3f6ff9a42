#pragma once

// Parsers for the human-friendly values in the config file: durations ("250ms", "30s") and sizes ("64KiB").

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::config {

// "<digits><unit>" with unit ms, s, m or h; a bare "0" is also accepted. No sign, no spaces, no fractions.
// Returns nullopt on malformed or overflowing input; *error (if given) then says why.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text, std::string* error = nullptr);

// "<digits>[unit]" in bytes. Binary units KiB, MiB, GiB, TiB (powers of 1024), decimal KB, MB, GB, TB
// (powers of 1000), or B / none for bytes. Units are case-sensitive.
std::optional<uint64_t> parseSize(std::string_view text, std::string* error = nullptr);

// "<digits>" only: a plain non-negative integer that fits in uint64_t.
std::optional<uint64_t> parseUnsigned(std::string_view text, std::string* error = nullptr);

}  // namespace tether::config
