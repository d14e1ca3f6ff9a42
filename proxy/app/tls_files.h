#pragma once

// The TLS files a config names (listener certificates and keys; upstream CAs and client certificates), loaded as
// the workers will load them, so that `--check`, startup and a reload all refuse a config whose files do not load.

#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_error.h"

namespace tether {

// One error per listener or upstream whose TLS files do not load: at the listener's failing certificate
// (`listeners[i].tls` or `listeners[i].tls.certificates[j]`, with its line and column) or at `upstreams[i].tls`.
std::vector<config::ConfigError> tlsFileErrors(const config::Config& config, const std::string& path);

}  // namespace tether
