#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "demo/demo_options.h"

namespace tether::demo {

class DemoH2Server;

// One h2c connection of the demo upstream, on nghttp2's server session. GET /slowtest works for a while on a
// timer and, like a cancellation-aware handler, stops the moment its stream is reset (RST_STREAM) or its
// connection goes away; the other streams on the connection carry on. Anything else is answered at once.
class DemoH2Connection {
 public:
  DemoH2Connection(DemoH2Server& server, event_base* base, evutil_socket_t fd, const DemoOptions& options);
  ~DemoH2Connection();
  DemoH2Connection(const DemoH2Connection&) = delete;
  DemoH2Connection& operator=(const DemoH2Connection&) = delete;

  // Sends the server SETTINGS; false if the session could not be set up (the server then drops us).
  bool start();

 private:
  struct Stream {
    DemoH2Connection* connection = nullptr;
    int32_t id = 0;
    std::string method;
    std::string path;
    std::string request_id;
    std::string body;  // the response body, once answered
    size_t body_sent = 0;
    event* timer = nullptr;  // slow work in progress
    std::chrono::milliseconds work{0};
    std::chrono::steady_clock::time_point started;
  };

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user);
  static void onRead(bufferevent* bev, void* arg);
  static void onWrite(bufferevent* bev, void* arg);
  static void onEvent(bufferevent* bev, short events, void* arg);
  static void onSlowDone(evutil_socket_t, short, void* arg);

  void dispatch(Stream& stream);
  void startSlow(Stream& stream);
  void answer(Stream& stream, int status, std::string body);
  // Writes what the session has queued; closes the connection when the session is done or broken.
  void flush();
  void close();
  int64_t elapsedMs(const Stream& stream) const;

  DemoH2Server& server_;
  event_base* base_;
  DemoOptions options_;
  bufferevent* bev_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  bool closing_ = false;
};

}  // namespace tether::demo
