#include "app/tls_files.h"

#include "tls/tls_client_context.h"

namespace tether {

std::vector<std::shared_ptr<const tls::TlsContext>> loadListenerContexts(
    const config::Config& config, const std::function<const tls::ServerHooks*(size_t)>& hooks, const std::string& path,
    std::vector<config::ConfigError>* errors) {
  std::vector<std::shared_ptr<const tls::TlsContext>> contexts;
  const size_t errors_before = errors->size();
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    if (!listener.tls) {
      contexts.push_back(nullptr);
      continue;
    }
    std::string error;
    size_t failed = 0;
    contexts.push_back(tls::TlsContext::load(*listener.tls, listener.name, hooks(i), &error, &failed));
    if (contexts.back()) continue;
    const config::ListenerCertificate& where = listener.tls->certificates[failed];
    errors->push_back({path, where.line, where.column, where.key_path, error});
  }
  if (errors->size() != errors_before) contexts.clear();
  return contexts;
}

std::vector<config::ConfigError> tlsFileErrors(const config::Config& config, const std::string& path) {
  std::vector<config::ConfigError> errors;
  loadListenerContexts(
      config, [](size_t) -> const tls::ServerHooks* { return nullptr; }, path, &errors);
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
