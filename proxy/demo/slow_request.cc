#include "demo/slow_request.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <poll.h>

#include <algorithm>

#include "demo/demo_log.h"
#include "demo/demo_server.h"

namespace tether::demo {

std::string describeSeconds(std::chrono::milliseconds duration) {
  const long long ms = duration.count();
  if (ms == 1000) return "1 second";
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);  // zero-padded
    fraction.erase(fraction.find_last_not_of('0') + 1);
    text += "." + fraction;
  }
  return text + " seconds";
}

SlowRequest::SlowRequest(DemoServer& server, evhttp_request* req, std::string id, std::chrono::milliseconds total,
                         std::chrono::milliseconds slice)
    : server_(server),
      req_(req),
      conn_(evhttp_request_get_connection(req)),
      id_(std::move(id)),
      total_(total),
      slice_(slice) {}

SlowRequest::~SlowRequest() {
  detachFromConnection();
  if (timer_ != nullptr) event_free(timer_);
}

void SlowRequest::start() {
  started_ = std::chrono::steady_clock::now();
  logLine(id_, "Starting to do slow work");
  timer_ = evtimer_new(server_.base(), &SlowRequest::onTimer, this);
  // evhttp 2.1 stops reading a connection while its request is being handled, so it rarely
  // reports that close before we reply: the per-slice socket peek is what notices promptly.
  // The close callback covers connections evhttp tears down on its own (errors, timeouts).
  evhttp_connection_set_closecb(conn_, &SlowRequest::onConnectionClosed, this);
  scheduleNextSlice();
}

void SlowRequest::onTimer(evutil_socket_t, short, void* arg) { static_cast<SlowRequest*>(arg)->tick(); }

void SlowRequest::onConnectionClosed(evhttp_connection*, void* arg) {
  static_cast<SlowRequest*>(arg)->abortFromCloseCallback();
}

std::chrono::milliseconds SlowRequest::elapsed() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
}

void SlowRequest::scheduleNextSlice() {
  const auto next = std::clamp(total_ - elapsed(), std::chrono::milliseconds(0), slice_);
  const timeval tv{static_cast<time_t>(next.count() / 1000), static_cast<suseconds_t>((next.count() % 1000) * 1000)};
  evtimer_add(timer_, &tv);
}

void SlowRequest::tick() {
  if (clientGone()) return abortDetectedBySlice();
  if (elapsed() >= total_) return finish();
  scheduleNextSlice();
}

// Asks the socket directly: POLLRDHUP reports the client's FIN even behind unread pipelined
// bytes, POLLHUP/POLLERR a reset.
bool SlowRequest::clientGone() const {
  bufferevent* bev = evhttp_connection_get_bufferevent(conn_);
  const evutil_socket_t fd = bev != nullptr ? bufferevent_getfd(bev) : -1;
  if (fd < 0) return true;
  pollfd pfd{fd, POLLRDHUP, 0};
  return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void SlowRequest::finish() {
  const std::string message = "Finished slow delay of " + describeSeconds(total_) + ".";
  logLine(id_, message);
  detachFromConnection();
  evbuffer* body = evbuffer_new();
  evbuffer_add(body, message.data(), message.size());
  evkeyvalq* headers = evhttp_request_get_output_headers(req_);
  evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
  evhttp_send_reply(req_, HTTP_OK, "OK", body);
  evbuffer_free(body);
  server_.release(this);  // destroys this
}

// Runs inside evhttp_connection_free(). evhttp has either detached the unanswered request
// (then it is ours to free) or still owns it and frees it right after this callback.
void SlowRequest::abortFromCloseCallback() {
  logLine(id_, "request aborted after " + std::to_string(elapsed().count()) + " ms");
  const bool detached = evhttp_request_get_connection(req_) == nullptr;
  detachFromConnection();
  if (detached) evhttp_request_free(req_);
  server_.release(this);  // destroys this
}

// The socket says the client is gone but evhttp has not noticed: close the connection ourselves,
// which also frees the request still queued on it.
void SlowRequest::abortDetectedBySlice() {
  logLine(id_, "request aborted after " + std::to_string(elapsed().count()) + " ms");
  evhttp_connection* conn = conn_;
  detachFromConnection();
  evhttp_connection_free(conn);
  server_.release(this);  // destroys this
}

void SlowRequest::detachFromConnection() {
  if (conn_ == nullptr) return;
  evhttp_connection_set_closecb(conn_, nullptr, nullptr);
  conn_ = nullptr;
}

}  // namespace tether::demo
