#include "demo/demo_server.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sys/socket.h>

#include <cstring>

#include "demo/slow_request.h"

namespace tether::demo {
namespace {

constexpr size_t kPatternSize = 64 * 1024;
constexpr uint64_t kMaxBytes = uint64_t{1} << 34;  // /bytes cap: 16 GiB; bodies are references
constexpr ev_ssize_t kMaxEchoBody = 64 * 1024 * 1024;

// Query-string parameters of one request, freed on scope exit.
class Query {
 public:
  explicit Query(evhttp_request* req) {
    // Parsing also initialises the list, so parse "" when there is no query.
    const char* query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    evhttp_parse_query_str(query != nullptr ? query : "", &params_);
  }
  ~Query() { evhttp_clear_headers(&params_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  const char* get(const char* name) { return evhttp_find_header(&params_, name); }

 private:
  evkeyvalq params_;
};

void sendText(evhttp_request* req, int code, const char* reason, const std::string& text) {
  evbuffer* body = evbuffer_new();
  evbuffer_add(body, text.data(), text.size());
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
  evhttp_send_reply(req, code, reason, body);
  evbuffer_free(body);
}

std::string path(evhttp_request* req) {
  const char* p = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  return p != nullptr && *p != '\0' ? p : "/";
}

}  // namespace

DemoServer::DemoServer(event_base* base, DemoOptions options)
    : base_(base), options_(std::move(options)), http_(evhttp_new(base)), pattern_(kPatternSize, '\0') {
  for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<char>('a' + i % 26);
  evhttp_set_gencb(http_, &DemoServer::onRequest, this);
  evhttp_set_max_body_size(http_, kMaxEchoBody);
}

DemoServer::~DemoServer() {
  slow_requests_.clear();  // detaches close callbacks before evhttp frees the connections
  evhttp_free(http_);
}

std::optional<uint16_t> DemoServer::listen() {
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http_, options_.host.c_str(), options_.port);
  if (bound == nullptr) return std::nullopt;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return std::nullopt;
  }
  // sin_port and sin6_port share their offset; read it from the matching struct anyway.
  const uint16_t port = addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                   : reinterpret_cast<sockaddr_in*>(&addr)->sin_port;
  return ntohs(port);
}

void DemoServer::release(SlowRequest* request) { slow_requests_.erase(request); }

void DemoServer::onRequest(evhttp_request* req, void* arg) { static_cast<DemoServer*>(arg)->dispatch(req); }

std::string DemoServer::requestId(evhttp_request* req) {
  const char* id = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
  if (id != nullptr && *id != '\0') return id;
  return "demo-" + std::to_string(next_request_number_++);
}

void DemoServer::dispatch(evhttp_request* req) {
  const std::string p = path(req);
  const auto method = evhttp_request_get_command(req);
  const bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
  const std::string id = requestId(req);
  evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", id.c_str());
  if (p == "/slowtest" && get) return handleSlow(req, id);
  if ((p == "/fast" || p == "/healthz") && get) return sendText(req, HTTP_OK, "OK", "ok\n");
  if (p == "/echo" && method == EVHTTP_REQ_POST) return handleEcho(req);
  if (p == "/bytes" && get) return handleBytes(req);
  if (p == "/slowtest" || p == "/fast" || p == "/healthz" || p == "/echo" || p == "/bytes") {
    return sendText(req, 405, "Method Not Allowed", "method not allowed\n");
  }
  sendText(req, HTTP_NOTFOUND, "Not Found", "not found\n");
}

void DemoServer::handleSlow(evhttp_request* req, const std::string& id) {
  auto duration = options_.slow_duration;
  Query query(req);
  if (const char* ms = query.get("ms")) {
    const auto value = parseUnsigned(ms, 24 * 3600 * 1000);
    if (!value) return sendText(req, HTTP_BADREQUEST, "Bad Request", "invalid ms\n");
    duration = std::chrono::milliseconds(*value);
  }
  auto slow = std::make_unique<SlowRequest>(*this, req, id, duration, options_.slice);
  SlowRequest* raw = slow.get();
  slow_requests_.emplace(raw, std::move(slow));
  raw->start();
}

void DemoServer::handleEcho(evhttp_request* req) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  const char* type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
  evhttp_add_header(out, "Content-Type", type != nullptr ? type : "application/octet-stream");
  evhttp_send_reply(req, HTTP_OK, "OK", evhttp_request_get_input_buffer(req));
}

void DemoServer::handleBytes(evhttp_request* req) {
  Query query(req);
  const char* n = query.get("n");
  const auto count = n != nullptr ? parseUnsigned(n, kMaxBytes) : std::optional<uint64_t>(0);
  if (!count) return sendText(req, HTTP_BADREQUEST, "Bad Request", "invalid n\n");
  evbuffer* body = evbuffer_new();
  for (uint64_t left = *count; left > 0;) {
    const size_t piece = left < pattern_.size() ? static_cast<size_t>(left) : pattern_.size();
    evbuffer_add_reference(body, pattern_.data(), piece, nullptr, nullptr);
    left -= piece;
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/octet-stream");
  evhttp_send_reply(req, HTTP_OK, "OK", body);
  evbuffer_free(body);
}

}  // namespace tether::demo
