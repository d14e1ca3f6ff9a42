#pragma once

// The client side of one HTTP/2 stream: implements DownstreamStream for the Exchange it owns. Request pseudo-headers
// become an HTTP/1.1 request head (:authority -> Host); the response head becomes HEADERS, the body DATA frames
// pulled by the codec's data provider (deferred while the upstream has sent nothing new), chunked trailers a
// trailing HEADERS frame. Request body credit is returned to the client only while the Exchange reads, so both
// directions are bounded by flow-control windows and the Exchange's watermarks.

#include <cstdint>
#include <memory>
#include <string>

#include "exchange/downstream_stream.h"
#include "exchange/exchange.h"
#include "http/message_head.h"
#include "util/byte_queue.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether {

class Http2Session;

class Http2Stream : public util::Deletable, public DownstreamStream {
 public:
  // `head` is empty, from the worker's pool (its storage warm from earlier streams).
  Http2Stream(Http2Session& session, int32_t id, http::MessageHead head);
  ~Http2Stream() override;
  Http2Stream(const Http2Stream&) = delete;
  Http2Stream& operator=(const Http2Stream&) = delete;

  // Session-facing, in the order a stream lives.
  bool addHeader(std::string_view name, std::string_view value);  // false: malformed or over the size limit
  void onHeadEnd(bool end_stream);
  bool headDone() const { return head_done_; }
  // Creates the Exchange and hands it the request (and any body and end that arrived with it).
  void dispatch();
  bool dispatched() const { return exchange_ != nullptr || dispatched_; }
  void onRequestData(const uint8_t* data, size_t len);
  void onRequestEnd();
  size_t readResponseBody(uint8_t* buf, size_t len, bool* end, bool* trailers);
  // After frames were written: tells a paused exchange when the client caught up.
  void afterFlush();
  // The stream is gone. Returns true if an unfinished exchange had to be cancelled (or detached).
  bool onClose(Outcome reason, uint32_t h2_error);
  bool exchangeFinished() const { return !exchange_ || exchange_->finished(); }
  void markResetByClient() { reset_by_client_ = true; }
  bool resetByClient() const { return reset_by_client_; }
  bool resetByTether() const { return reset_by_tether_; }
  int32_t id() const { return id_; }
  // Closed: the request head goes back to the worker's pool (the exchange copied what it keeps).
  http::MessageHead takeRequestHead() { return std::move(head_); }

  // DownstreamStream
  void sendResponseHead(http::MessageHead& head, bool no_body) override;
  void sendInterimResponse(const http::MessageHead& head) override;
  void sendResponseBody(const char* data, size_t len) override;
  void sendResponseEnd(const http::HeaderList* trailers) override;
  void sendLocalResponse(int status, std::string_view request_id, std::string_view message) override;
  size_t pendingOutput() const override;
  void pauseRequestBody() override;
  void resumeRequestBody() override;
  void startTunnel() override;
  void tunnelToClient(evbuffer* data) override;
  void abort() override;
  void onExchangeComplete() override;
  std::string_view protocol() const override;
  bool secure() const override;
  const net::ClientEndpoint& client() const override;

 private:
  void deliverBody(const uint8_t* data, size_t len);

  Http2Session& session_;
  int32_t id_;
  http::MessageHead head_;
  std::string cookie_;  // HTTP/2 splits Cookie into fields; HTTP/1.1 wants them joined with "; "
  http::HeaderList trailers_in_;
  std::unique_ptr<Exchange> exchange_;
  util::EvBufferPtr early_body_;  // body bytes that arrived before dispatch (created only then)
  util::ByteQueue out_;           // response body bytes not yet taken by the codec
  http::HeaderList trailers_out_;
  size_t header_bytes_ = 0;
  size_t unconsumed_ = 0;  // request body bytes whose flow-control credit waits for the upstream side
  bool head_done_ = false;
  bool dispatched_ = false;
  bool request_ended_ = false;
  bool request_paused_ = false;
  bool response_started_ = false;
  bool response_ended_ = false;
  bool exchange_done_ = false;
  bool closed_ = false;
  bool reset_by_client_ = false;
  bool reset_by_tether_ = false;  // abort(): tether's own decision (upstream failure), not the client's doing
};

}  // namespace tether
