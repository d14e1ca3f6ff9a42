// tether: entry point. Parses the command line, loads the config, runs the server until a signal.

#include <cstdio>
#include <iostream>
#include <memory>

#include "app/command_line.h"
#include "app/server.h"
#include "app/tls_files.h"
#include "config/config_loader.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string error;
  auto cl = tether::parseCommandLine(args, &error);
  if (!cl) {
    std::cerr << "tether: " << error << "\n";
    return 2;
  }
  if (cl->help) {
    std::cout << tether::usageText();
    return 0;
  }
  if (cl->version) {
    std::cout << "tether " << TETHER_VERSION << "\n";
    return 0;
  }
  auto result = tether::config::loadConfigFile(cl->config_path);
  if (!result.ok()) {
    for (const auto& e : result.errors) std::cerr << e.toString() << "\n";
    std::cerr << "tether: configuration " << cl->config_path << " has " << result.errors.size() << " error(s)\n";
    return 1;
  }
  // As startup will: `--check` passes only if startup can.
  if (const auto tls_errors = tether::tlsFileErrors(*result.config, cl->config_path); !tls_errors.empty()) {
    for (const auto& e : tls_errors) std::cerr << e.toString() << "\n";
    std::cerr << "tether: configuration " << cl->config_path << " has " << tls_errors.size() << " error(s)\n";
    return 1;
  }
  auto config = std::const_pointer_cast<tether::config::Config>(result.config);
  if (cl->workers) config->workers = *cl->workers;
  if (cl->check) {
    std::cout << "tether: configuration " << cl->config_path << " is valid\n";
    return 0;
  }
  tether::blockServerSignals();  // before any thread starts, so only runUntilSignalled() sees them
  tether::Server server(config, cl->config_path, cl->workers.has_value());
  if (!server.start(&error)) {
    std::cerr << "tether: " << error << "\n";
    return 1;
  }
  return server.runUntilSignalled();
}
