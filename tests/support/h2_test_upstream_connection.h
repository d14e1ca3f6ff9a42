#pragma once

// Private to H2TestUpstream: one accepted connection, an nghttp2 server session over a non-blocking socket. Driven
// by the server thread's poll loop; reports every frame-level event to the owner's records.

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "support/h2_test_upstream.h"

namespace tether::testing {

class H2TestUpstream::Connection {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  Connection(H2TestUpstream& owner, int fd, int id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  int id() const { return id_; }
  bool wantsWrite() const { return !out_.empty(); }
  // Reads what the socket has and feeds the session. False once the peer is gone or the session failed.
  bool onReadable();
  // Serializes what the session has to send and writes as much as the socket takes. False on a write error.
  bool flush();
  // Releases held streams, resumes slow bodies whose interval has passed.
  void service(TimePoint now);
  std::optional<TimePoint> nextTimer() const;
  // The session has nothing more to read or write (after GOAWAY), and everything has been written.
  bool finished() const;

 private:
  struct SessionDelete {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };
  struct StreamState {
    H2Request request;
    Reply reply;
    bool submitted = false;  // response HEADERS submitted
    bool held = false;
    uint64_t hold_epoch = 0;
    uint64_t sent = 0;  // body bytes handed to nghttp2
    bool deferred = false;
    TimePoint next_send{};  // slow bodies: the next DATA frame not before this
  };

  static nghttp2_session_callbacks* makeCallbacks();
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user);
  static int onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user);

  void onHeadersReceived(const nghttp2_frame& frame);
  void onResetReceived(const nghttp2_frame& frame);
  void requestComplete(int32_t stream_id);
  void applyReply(int32_t stream_id, StreamState& stream);
  void submitResponse(int32_t stream_id, StreamState& stream);
  ssize_t produceBody(int32_t stream_id, StreamState& stream, uint8_t* buf, size_t length, uint32_t* flags);
  void releaseIfAsked(int32_t stream_id, StreamState& stream);

  H2TestUpstream& owner_;
  int fd_;
  int id_;
  std::unique_ptr<nghttp2_session, SessionDelete> session_;
  std::string out_;  // serialized frames not yet written
  std::map<int32_t, StreamState> streams_;
  std::deque<TimePoint> reset_times_;  // RST_STREAM arrivals inside the reset window
  bool calm_sent_ = false;
};

}  // namespace tether::testing
