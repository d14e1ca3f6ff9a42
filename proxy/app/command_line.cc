#include "app/command_line.h"

#include <charconv>

namespace tether {

const char* usageText() {
  return "Usage: tether --config FILE [--check] [--workers N]\n"
         "       tether --version | --help\n"
         "\n"
         "tether is a reverse proxy that cancels upstream work when the client goes away.\n"
         "\n"
         "Options:\n"
         "  -c, --config FILE   YAML configuration to load (required to run or check)\n"
         "  -t, --check         validate the configuration, print every error, exit 0 (valid) or 1 (invalid)\n"
         "  -w, --workers N     number of worker threads (overrides `workers` in the file; 1..256)\n"
         "  -v, --version       print the version and exit\n"
         "  -h, --help          print this help and exit\n"
         "\n"
         "Signals: SIGINT/SIGTERM drain and stop, SIGHUP reloads the config, SIGUSR1 reopens the log file.\n";
}

std::optional<CommandLine> parseCommandLine(const std::vector<std::string>& args, std::string* error) {
  CommandLine cl;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) {
        *error = "option " + arg + " needs a value";
        return false;
      }
      *out = args[++i];
      return true;
    };
    if (arg == "-c" || arg == "--config") {
      if (!value(&cl.config_path)) return std::nullopt;
    } else if (arg.rfind("--config=", 0) == 0) {
      cl.config_path = arg.substr(9);
    } else if (arg == "-t" || arg == "--check") {
      cl.check = true;
    } else if (arg == "-v" || arg == "--version") {
      cl.version = true;
    } else if (arg == "-h" || arg == "--help") {
      cl.help = true;
    } else if (arg == "-w" || arg == "--workers") {
      std::string text;
      if (!value(&text)) return std::nullopt;
      unsigned n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 256) {
        *error = "--workers expects a number from 1 to 256, got '" + text + "'";
        return std::nullopt;
      }
      cl.workers = n;
    } else {
      *error = "unknown option '" + arg + "' (see --help)";
      return std::nullopt;
    }
  }
  if (!cl.help && !cl.version && cl.config_path.empty()) {
    *error = "--config FILE is required (see --help)";
    return std::nullopt;
  }
  return cl;
}

}  // namespace tether
