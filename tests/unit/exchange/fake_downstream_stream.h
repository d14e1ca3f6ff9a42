#pragma once

// The client side of one exchange, without a socket: records what the exchange asked of it. A test sets
// `pending_output` to play a client that does not read.

#include <event2/buffer.h>

#include <string>
#include <string_view>
#include <vector>

#include "exchange/downstream_stream.h"

namespace tether::testing {

class FakeDownstreamStream : public DownstreamStream {
 public:
  void sendResponseHead(http::MessageHead& head, bool) override {
    response_status = head.status;
    response_headers = head.headers;
  }
  void sendInterimResponse(const http::MessageHead& head) override { interim_statuses.push_back(head.status); }
  void sendResponseBody(const char*, size_t len) override { body_bytes += len; }
  void sendResponseEnd(const http::HeaderList*) override { response_ended = true; }
  void sendLocalResponse(int status, std::string_view, std::string_view message) override {
    local_status = status;
    local_message = message;
  }
  size_t pendingOutput() const override { return pending_output; }
  void pauseRequestBody() override { request_paused = true; }
  void resumeRequestBody() override { request_paused = false; }
  void startTunnel() override { tunnel_started = true; }
  void tunnelToClient(evbuffer* data) override {
    tunnel_bytes += evbuffer_get_length(data);
    evbuffer_drain(data, evbuffer_get_length(data));
  }
  void abort() override { aborted = true; }
  void onExchangeComplete() override { completed = true; }
  std::string_view protocol() const override { return protocol_name; }
  const net::ClientEndpoint& client() const override { return client_; }

  std::string_view protocol_name = "http/1.1";  // "h2c": a client that can read trailers (gRPC answers)
  int response_status = 0;
  http::HeaderList response_headers;
  std::vector<int> interim_statuses;
  int local_status = 0;
  std::string local_message;
  size_t body_bytes = 0;
  size_t tunnel_bytes = 0;
  size_t pending_output = 0;
  bool request_paused = false;
  bool tunnel_started = false;
  bool response_ended = false;
  bool aborted = false;
  bool completed = false;

 private:
  net::ClientEndpoint client_{*net::SocketAddress::parse("192.0.2.7:40000")};
};

}  // namespace tether::testing
