#include "output_lines.h"

#include <sstream>
#include <thread>

namespace tether::testing {

std::vector<std::string> linesWith(const std::string& text, const std::vector<std::string>& needles) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const std::string& needle : needles) all = all && line.find(needle) != std::string::npos;
    if (all) found.push_back(line);
  }
  return found;
}

std::vector<std::string> waitForLinesWith(const Process& process, const std::vector<std::string>& needles, size_t n,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto found = linesWith(process.output(), needles);
    if (found.size() >= n || std::chrono::steady_clock::now() >= deadline) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // between polls only
  }
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string field; in >> field;) out.push_back(field);
  return out;
}

}  // namespace tether::testing
