#include "app/tls_files.h"

#include "tls/tls_client_context.h"
#include "tls/tls_context.h"

namespace tether {

std::vector<config::ConfigError> tlsFileErrors(const config::Config& config, const std::string& path) {
  std::vector<config::ConfigError> errors;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    std::string error;
    size_t failed = 0;
    if (!listener.tls || tls::TlsContext::load(*listener.tls, listener.name, nullptr, &error, &failed)) continue;
    const config::ListenerCertificate& where = listener.tls->certificates[failed];
    errors.push_back({path, where.line, where.column, where.key_path, error});
  }
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    const auto& upstream = config.upstreams[i];
    std::string error;
    // Only the files are checked here: the ALPN list the pools offer (h2 or http/1.1) cannot make a load fail.
    if (!upstream.tls || tls::TlsClientContext::load(*upstream.tls, {}, &error)) continue;
    errors.push_back({path, 0, 0, "upstreams[" + std::to_string(i) + "].tls", error});
  }
  return errors;
}

}  // namespace tether
