#pragma once

#include <string>

#include "config/config.h"

namespace tether::admin {

// The effective configuration as JSON, for GET /config: every value after defaults were applied. TLS shows the
// certificate and key *paths*; key material is never read here (only the workers' TLS contexts load it).
std::string configToJson(const config::Config& config);

}  // namespace tether::admin
