#include "demo/demo_h2_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <utility>

namespace tether::demo {

DemoH2Server::DemoH2Server(event_base* base, DemoOptions options) : base_(base), options_(std::move(options)) {}

DemoH2Server::~DemoH2Server() {
  connections_.clear();  // before the listener: they log what they abandon
  if (listener_ != nullptr) evconnlistener_free(listener_);
}

std::optional<uint16_t> DemoH2Server::listen() {
  // Not evutil_parse_sockaddr_port: it refuses port 0.
  sockaddr_storage addr{};
  int len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, options_.h2c_host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options_.h2c_port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, options_.h2c_host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options_.h2c_port);
    len = sizeof *v6;
  } else {
    return std::nullopt;
  }
  listener_ = evconnlistener_new_bind(base_, &DemoH2Server::onAccept, this,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                      reinterpret_cast<sockaddr*>(&addr), len);
  if (listener_ == nullptr) return std::nullopt;
  socklen_t bound_len = sizeof addr;
  if (getsockname(evconnlistener_get_fd(listener_), reinterpret_cast<sockaddr*>(&addr), &bound_len) != 0) {
    return std::nullopt;
  }
  const uint16_t port = addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                   : reinterpret_cast<sockaddr_in*>(&addr)->sin_port;
  return ntohs(port);
}

void DemoH2Server::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* self = static_cast<DemoH2Server*>(arg);
  auto connection = std::make_unique<DemoH2Connection>(*self, self->base_, fd, self->options_);
  DemoH2Connection* raw = connection.get();
  self->connections_.emplace(raw, std::move(connection));
  if (!raw->start()) self->connections_.erase(raw);
}

void DemoH2Server::closed(DemoH2Connection* connection) { connections_.erase(connection); }

}  // namespace tether::demo
