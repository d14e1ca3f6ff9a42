#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "demo/demo_h2_connection.h"
#include "demo/demo_options.h"

namespace tether::demo {

// The demo upstream's h2c side (prior knowledge, `--h2c-listen`): the same /slowtest as the HTTP/1.1 side, but
// several requests share one connection, so a cancelled request is an RST_STREAM on its stream and the
// connection stays up. Single-threaded, on the caller's event_base.
class DemoH2Server {
 public:
  DemoH2Server(event_base* base, DemoOptions options);
  ~DemoH2Server();
  DemoH2Server(const DemoH2Server&) = delete;
  DemoH2Server& operator=(const DemoH2Server&) = delete;

  // Binds options.h2c_host:h2c_port. Returns the bound port (useful with port 0), or nullopt.
  std::optional<uint16_t> listen();
  // Destroys a connection that has closed; called by the connection itself, as its last act.
  void closed(DemoH2Connection* connection);
  // For requests without an X-Request-Id: "demo-h2-1", "demo-h2-2", ...
  std::string nextRequestId() { return "demo-h2-" + std::to_string(next_request_number_++); }

 private:
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg);

  event_base* base_;
  DemoOptions options_;
  evconnlistener* listener_ = nullptr;
  uint64_t next_request_number_ = 1;
  std::unordered_map<DemoH2Connection*, std::unique_ptr<DemoH2Connection>> connections_;
};

}  // namespace tether::demo
