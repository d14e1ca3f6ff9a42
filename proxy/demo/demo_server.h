#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "demo/demo_options.h"

namespace tether::demo {

class SlowRequest;

// The demo upstream's evhttp server: GET /slowtest, /fast, /bytes, /healthz and POST /echo.
// Single-threaded; everything runs on the caller's event_base.
class DemoServer {
 public:
  DemoServer(event_base* base, DemoOptions options);
  ~DemoServer();
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;

  // Binds the listening socket. Returns the bound port (useful with port 0), or nullopt.
  std::optional<uint16_t> listen();

  event_base* base() const { return base_; }
  // Destroys a finished or aborted slow request.
  void release(SlowRequest* request);

 private:
  static void onRequest(evhttp_request* req, void* arg);
  void dispatch(evhttp_request* req);
  void handleSlow(evhttp_request* req, const std::string& id);
  void handleEcho(evhttp_request* req);
  void handleBytes(evhttp_request* req);
  std::string requestId(evhttp_request* req);

  event_base* base_;
  DemoOptions options_;
  evhttp* http_;
  uint64_t next_request_number_ = 1;
  std::string pattern_;  // /bytes bodies reference this block instead of copying it
  std::unordered_map<SlowRequest*, std::unique_ptr<SlowRequest>> slow_requests_;
};

}  // namespace tether::demo
