#pragma once

// The TLS files a config names (listener certificates and keys; upstream CAs and client certificates), loaded as
// the workers will load them, so that `--check`, startup and a reload all refuse a config whose files do not load;
// and the listeners' server contexts themselves, which the main thread builds for each worker at start and on
// every reload (the files are read again each time, so a renewed certificate at the same path is picked up).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_error.h"
#include "tls/server_hooks.h"
#include "tls/tls_context.h"

namespace tether {

// One error per listener or upstream whose TLS files do not load: at the listener's failing certificate
// (`listeners[i].tls` or `listeners[i].tls.certificates[j]`, with its line and column) or at `upstreams[i].tls`.
std::vector<config::ConfigError> tlsFileErrors(const config::Config& config, const std::string& path);

// The server contexts of every listener, indexed like config.listeners (null for a cleartext one), each built
// with `hooks(i)` (a worker's). Empty with `*errors` filled (as tlsFileErrors) if a file does not load.
std::vector<std::shared_ptr<const tls::TlsContext>> loadListenerContexts(
    const config::Config& config, const std::function<const tls::ServerHooks*(size_t)>& hooks, const std::string& path,
    std::vector<config::ConfigError>* errors);

}  // namespace tether
