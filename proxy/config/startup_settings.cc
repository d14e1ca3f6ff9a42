#include "config/startup_settings.h"

#include <optional>

namespace tether::config {
namespace {

// Certificates and session_tickets are not compared: a reload applies them (files read again). TLS on or off and
// the ticket key rotation (each worker's key chain runs at its period from the start) need a restart.
bool sameListener(const Listener& a, const Listener& b) {
  const bool same_tls =
      a.tls.has_value() == b.tls.has_value() && (!a.tls || a.tls->ticket_rotation == b.tls->ticket_rotation);
  return a.name == b.name && a.address == b.address && a.limits.max_connections == b.limits.max_connections && same_tls;
}

bool sameListeners(const std::vector<Listener>& a, const std::vector<Listener>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!sameListener(a[i], b[i])) return false;
  }
  return true;
}

// Records `key` if the values differ, then makes `next` hold the running value.
template <typename T>
void keep(std::vector<std::string>& changed, const char* key, const T& running, T& next) {
  if (!(running == next)) changed.emplace_back(key);
  next = running;
}

}  // namespace

std::vector<std::string> keepStartupSettings(const Config& running, Config& next) {
  std::vector<std::string> changed;
  if (!sameListeners(running.listeners, next.listeners)) {
    changed.emplace_back("listeners");
    next.listeners = running.listeners;
  } else {
    for (size_t i = 0; i < next.listeners.size(); ++i) {  // the running listener with the file's certificates
      std::optional<ListenerTls> tls = std::move(next.listeners[i].tls);
      next.listeners[i] = running.listeners[i];
      next.listeners[i].tls = std::move(tls);
    }
  }
  keep(changed, "workers", running.workers, next.workers);
  keep(changed, "limits.max_client_connections", running.limits.max_client_connections,
       next.limits.max_client_connections);
  keep(changed, "log.format", running.log.format, next.log.format);
  keep(changed, "log.sink", running.log.sink, next.log.sink);
  keep(changed, "log.path", running.log.path, next.log.path);
  keep(changed, "log.queue_lines", running.log.queue_lines, next.log.queue_lines);
  if (!(running.admin.address == next.admin.address)) changed.emplace_back("admin.address");
  next.admin.address = running.admin.address;
  next.admin.address_text = running.admin.address_text;
  keep(changed, "admin.recent_cancellations", running.admin.recent_cancellations, next.admin.recent_cancellations);
  return changed;
}

}  // namespace tether::config
