#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <chrono>
#include <string>

namespace tether::demo {

class DemoServer;

// One in-flight GET /slowtest: "works" in short timer slices and, like a cancellation-aware
// handler, gives up as soon as its client connection goes away instead of finishing the work.
// Owned by DemoServer; it asks the server to destroy it once it has answered or aborted.
class SlowRequest {
 public:
  SlowRequest(DemoServer& server, evhttp_request* req, std::string id, std::chrono::milliseconds total,
              std::chrono::milliseconds slice);
  ~SlowRequest();
  SlowRequest(const SlowRequest&) = delete;
  SlowRequest& operator=(const SlowRequest&) = delete;

  void start();

 private:
  static void onTimer(evutil_socket_t fd, short what, void* arg);
  static void onConnectionClosed(evhttp_connection* conn, void* arg);

  void tick();
  bool clientGone() const;
  void scheduleNextSlice();
  void finish();
  void abortFromCloseCallback();
  void abortDetectedBySlice();
  void detachFromConnection();
  std::chrono::milliseconds elapsed() const;

  DemoServer& server_;
  evhttp_request* req_;
  evhttp_connection* conn_;  // nullptr once detached
  event* timer_ = nullptr;
  std::string id_;
  std::chrono::milliseconds total_;
  std::chrono::milliseconds slice_;
  std::chrono::steady_clock::time_point started_;
};

// "10 seconds", "0.3 seconds", "1 second": the duration wording of the demo's log lines.
std::string describeSeconds(std::chrono::milliseconds duration);

}  // namespace tether::demo
