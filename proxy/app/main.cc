// tether: entry point. Parses the command line, loads the config, runs the server until a signal.

#include <cstdio>
#include <iostream>
#include <memory>

#include "app/command_line.h"
#include "app/server.h"
#include "config/config_loader.h"
#include "tls/tls_client_context.h"
#include "tls/tls_context.h"

namespace {

// Loads each TLS listener's certificate and key, and each TLS upstream's files, as startup does, so that `--check`
// passes only if startup can.
size_t reportTlsErrors(const tether::config::Config& config, const std::string& path) {
  size_t errors = 0;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    std::string error;
    if (!listener.tls || tether::tls::TlsContext::load(*listener.tls, &error)) continue;
    const std::string key_path = "listeners[" + std::to_string(i) + "].tls";
    std::cerr << tether::config::ConfigError{path, 0, 0, key_path, error}.toString() << "\n";
    ++errors;
  }
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    const auto& upstream = config.upstreams[i];
    std::string error;
    if (!upstream.tls || tether::tls::TlsClientContext::load(*upstream.tls, {"http/1.1"}, &error)) continue;
    const std::string key_path = "upstreams[" + std::to_string(i) + "].tls";
    std::cerr << tether::config::ConfigError{path, 0, 0, key_path, error}.toString() << "\n";
    ++errors;
  }
  return errors;
}

}  // namespace

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
  if (const size_t errors = reportTlsErrors(*result.config, cl->config_path)) {
    std::cerr << "tether: configuration " << cl->config_path << " has " << errors << " error(s)\n";
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
