#pragma once

// The interop servers (the Go upstream, nghttpd) report what they saw as lines on stdout; tests wait for those
// lines as events. Helpers over a Process's captured output.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "support/process.h"

namespace tether::testing {

// Lines of `text` that contain all of `needles`, in order.
std::vector<std::string> linesWith(const std::string& text, const std::vector<std::string>& needles);

// Waits (polling the output) until at least `n` lines contain all of `needles` or the process has exited, up to
// `timeout`; returns the matching lines then.
std::vector<std::string> waitForLinesWith(const Process& process, const std::vector<std::string>& needles, size_t n,
                                          std::chrono::milliseconds timeout = Process::kDefaultTimeout);

// The whitespace-separated fields of a line.
std::vector<std::string> fields(const std::string& line);

}  // namespace tether::testing
