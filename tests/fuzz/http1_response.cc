// libFuzzer target: the HTTP/1.1 response path of an upstream connection. An upstream's bytes go through the
// response Http1Codec (each response answering GET or HEAD as the control bytes say, as UpstreamConnection arms
// it), in reads cut as the first input byte says, then EOF. Each head gets the exchange's rules (hop-by-hop
// removal, X-Request-Id) and is framed for an HTTP/1.1 client as DownstreamSession frames it (Content-Length or
// chunked). Invariant: what the client would get parses again as the same sequence of responses and bodies.
#include <event2/buffer.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "http/header_rules.h"
#include "http/http1_codec.h"
#include "http/message_writer.h"
#include "util/libevent.h"

namespace tether::fuzz {
namespace {

using http::Http1Codec;
using HeadAction = http::Http1CodecCallbacks::HeadAction;

constexpr std::string_view kRequestId = "0123456789abcdef0123456789abcdef";

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

bool isHead(uint8_t control) { return (control & 1) != 0; }

struct Seen {
  int status = 0;
  std::string body;
};

// Collects responses (statuses and de-framed bodies) from one side.
class Collector : public http::Http1CodecCallbacks {
 public:
  HeadAction onHead(http::MessageHead& head) override {
    seen.push_back({head.status, {}});
    return head.status == 101 ? HeadAction::Upgrade : HeadAction::Continue;
  }
  void onBody(const char* data, size_t len) override { seen.back().body.append(data, len); }
  bool onMessageComplete() override { return true; }

  std::vector<Seen> seen;
};

// The response side of Exchange + DownstreamSession for an HTTP/1.1 client.
class ResponsePath : public Collector {
 public:
  explicit ResponsePath(std::vector<bool> head_requests) : head_requests_(std::move(head_requests)) {}

  HeadAction onHead(http::MessageHead& head) override {
    Collector::onHead(head);
    const bool interim = head.status >= 100 && head.status < 200 && head.status != 101;
    if (interim) {
      http::writeResponseHead(client_.get(), head, http::BodyFraming::None);
      return HeadAction::Continue;
    }
    const bool no_body = currentIsHead() || head.status == 204 || head.status == 304 || head.status == 101;
    framing_ = no_body               ? http::BodyFraming::None
               : head.content_length ? http::BodyFraming::ContentLength
                                     : http::BodyFraming::Chunked;
    http::removeHopByHop(head.headers, head.status == 101);
    http::setRequestId(head, kRequestId);
    // A bodiless answer to HEAD keeps its Content-Length, as the session does.
    const bool keep_length = no_body && head.content_length && head.status != 204 && head.status >= 200;
    http::writeResponseHead(client_.get(), head, keep_length ? http::BodyFraming::ContentLength : framing_);
    if (head.status == 101) return HeadAction::Upgrade;
    return no_body ? HeadAction::NoBody : HeadAction::Continue;
  }
  void onBody(const char* data, size_t len) override {
    Collector::onBody(data, len);
    if (framing_ == http::BodyFraming::Chunked) {
      http::writeChunk(client_.get(), data, len);
    } else {
      evbuffer_add(client_.get(), data, len);
    }
  }
  bool onMessageComplete() override {
    if (framing_ == http::BodyFraming::Chunked) http::writeLastChunk(client_.get(), nullptr);
    framing_ = http::BodyFraming::None;
    // Interim responses are not answers: the same request is still waiting.
    const int status = seen.back().status;
    if (status >= 200) ++answered_;
    return true;
  }

  bool currentIsHead() const { return answered_ < head_requests_.size() && head_requests_[answered_]; }
  const char* nextMethod() const { return currentIsHead() ? "HEAD" : "GET"; }
  evbuffer* client() { return client_.get(); }

 private:
  std::vector<bool> head_requests_;
  size_t answered_ = 0;
  http::BodyFraming framing_ = http::BodyFraming::None;
  util::EvBufferPtr client_{evbuffer_new()};
};

// The client reads what tether wrote: same responses, same bodies. Only complete ones are compared: a response
// cut short by EOF is an upstream error, not forwarded as a whole.
void checkClientView(ResponsePath& path, const std::vector<bool>& head_requests, size_t complete) {
  Collector client;
  Http1Codec codec(Http1Codec::Kind::Response, client, {1 << 20});
  size_t answered = 0;
  codec.expectResponseTo(head_requests.empty() || !head_requests[0] ? "GET" : "HEAD");
  evbuffer* out = path.client();
  size_t len = evbuffer_get_length(out);
  const char* bytes = reinterpret_cast<const char*>(evbuffer_pullup(out, -1));
  while (len > 0) {
    const size_t used = codec.feed(bytes, len);
    bytes += used;
    len -= used;
    if (codec.status() != Http1Codec::Status::Paused) break;
    if (!client.seen.empty() && client.seen.back().status >= 200) ++answered;
    const bool head = answered < head_requests.size() && head_requests[answered];
    codec.expectResponseTo(head ? "HEAD" : "GET");
  }
  check(codec.status() != Http1Codec::Status::Error, "response forwarded to the client does not parse");
  check(client.seen.size() >= complete, "client sees fewer responses than were forwarded");
  for (size_t i = 0; i < complete; ++i) {
    check(client.seen[i].status == path.seen[i].status, "status differs");
    check(client.seen[i].body == path.seen[i].body, "body differs");
  }
}

}  // namespace
}  // namespace tether::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  fuzz::FuzzInput input(data, size);
  const size_t step = fuzz::FuzzInput::stepFrom(input.take());
  std::vector<bool> head_requests;
  const uint8_t methods = input.take();
  for (int i = 0; i < 8; ++i) head_requests.push_back(fuzz::isHead(static_cast<uint8_t>(methods >> i)));
  fuzz::ResponsePath path(head_requests);
  http::Http1Codec codec(http::Http1Codec::Kind::Response, path, {4096});
  codec.expectResponseTo(path.nextMethod());
  const uint8_t* chunk = nullptr;
  size_t len = 0;
  bool stopped = false;
  while (!stopped && input.next(step, &chunk, &len)) {
    const char* bytes = reinterpret_cast<const char*>(chunk);
    while (len > 0) {
      const size_t used = codec.feed(bytes, len);
      bytes += used;
      len -= used;
      if (codec.status() == http::Http1Codec::Status::Paused) {
        codec.expectResponseTo(path.nextMethod());
      } else if (codec.status() != http::Http1Codec::Status::Ok || used == 0) {
        stopped = codec.status() != http::Http1Codec::Status::Ok;
        break;
      }
    }
  }
  const bool error = codec.status() == http::Http1Codec::Status::Error;
  if (!error && codec.status() != http::Http1Codec::Status::Upgraded) codec.finishOnEof();
  // Responses whose end was seen; an error or EOF mid-message leaves the last one incomplete.
  size_t complete = path.seen.size();
  if ((error || codec.status() == http::Http1Codec::Status::Error || codec.inMessage()) && complete > 0) --complete;
  fuzz::checkClientView(path, head_requests, complete);
  return 0;
}
