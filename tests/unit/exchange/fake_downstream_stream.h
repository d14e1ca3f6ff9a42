#pragma once

// The client side of one exchange, without a socket: records what the exchange asked of it.

#include <string>
#include <string_view>

#include "exchange/downstream_stream.h"

namespace tether::testing {

class FakeDownstreamStream : public DownstreamStream {
 public:
  void sendResponseHead(http::MessageHead& head, bool) override { response_status = head.status; }
  void sendInterimResponse(const http::MessageHead&) override {}
  void sendResponseBody(const char*, size_t len) override { body_bytes += len; }
  void sendResponseEnd(const http::HeaderList*) override { response_ended = true; }
  void sendLocalResponse(int status, std::string_view, std::string_view) override { local_status = status; }
  size_t pendingOutput() const override { return 0; }
  void pauseRequestBody() override {}
  void resumeRequestBody() override {}
  void startTunnel() override {}
  void tunnelToClient(evbuffer*) override {}
  void abort() override { aborted = true; }
  void onExchangeComplete() override { completed = true; }
  std::string_view protocol() const override { return "http/1.1"; }
  const net::ClientEndpoint& client() const override { return client_; }

  int response_status = 0;
  int local_status = 0;
  size_t body_bytes = 0;
  bool response_ended = false;
  bool aborted = false;
  bool completed = false;

 private:
  net::ClientEndpoint client_{*net::SocketAddress::parse("192.0.2.7:40000")};
};

}  // namespace tether::testing
