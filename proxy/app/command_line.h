#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tether {

struct CommandLine {
  std::string config_path;
  bool check = false;
  bool version = false;
  bool help = false;
  std::optional<unsigned> workers;
};

// Parses argv; on failure returns nullopt and sets `error`.
std::optional<CommandLine> parseCommandLine(const std::vector<std::string>& args, std::string* error);
const char* usageText();

}  // namespace tether
