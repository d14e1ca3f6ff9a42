#pragma once

// A reload applies routes, upstreams, most limits, log level and drain_timeout to new requests. Some settings
// only take effect when tether starts: the listening sockets (addresses, TLS on or off and its ticket key
// rotation, connection caps; a listener's certificates and session_tickets do follow a reload), the number of workers,
// the log sink and its queue, and the admin listener. A reload keeps their running values and says which of them
// changed, so the operator knows a restart is needed, and /config shows what really runs.

#include <string>
#include <vector>

#include "config/config.h"

namespace tether::config {

// Copies the startup-only settings of `running` into `next`; returns the keys whose value differed, e.g.
// "listeners", "workers", "log.sink", "admin.address" (empty: nothing needs a restart).
std::vector<std::string> keepStartupSettings(const Config& running, Config& next);

}  // namespace tether::config
