#include "admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "admin/config_json.h"
#include "metrics/exposition_writer.h"

namespace tether::admin {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";

int bindAdmin(const net::SocketAddress& address, std::string* error) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("admin socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, address.sockaddr_ptr(), address.length()) != 0 || listen(fd, 64) != 0) {
    *error = "cannot listen on admin address " + address.toString() + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// The path of a request target, without the query string.
std::string_view pathOf(const char* uri) {
  std::string_view target = uri != nullptr ? uri : "";
  return target.substr(0, target.find('?'));
}

}  // namespace

void AdminServer::HttpFree::operator()(evhttp* http) const { evhttp_free(http); }

AdminServer::AdminServer(std::shared_ptr<const config::Config> config, const metrics::MetricsRegistry& registry,
                         std::function<metrics::ProcessCounters()> process_counters)
    : config_(std::move(config)), registry_(registry), process_counters_(std::move(process_counters)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::setConfig(std::shared_ptr<const config::Config> config) {
  std::lock_guard lock(config_mutex_);
  config_ = std::move(config);
}

std::shared_ptr<const config::Config> AdminServer::currentConfig() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

bool AdminServer::start(std::string* error) {
  const int fd = bindAdmin(config_->admin.address, error);
  if (fd < 0) return false;
  base_.reset(event_base_new());
  http_.reset(evhttp_new(base_.get()));
  if (!base_ || !http_ || evhttp_accept_socket_with_handle(http_.get(), fd) == nullptr) {
    close(fd);
    *error = "cannot start the admin server";
    return false;
  }
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  // Admin requests are tiny GETs: small limits, and an idle or slow admin client is dropped.
  evhttp_set_max_headers_size(http_.get(), 16 * 1024);
  evhttp_set_max_body_size(http_.get(), 4 * 1024);
  evhttp_set_timeout(http_.get(), 10);
  evhttp_set_gencb(http_.get(), &AdminServer::onRequest, this);
  stop_event_.reset(event_new(base_.get(), -1, 0, &AdminServer::onStop, this));
  thread_ = std::thread([this] { event_base_dispatch(base_.get()); });
  return true;
}

void AdminServer::stop() {
  if (thread_.joinable()) {
    event_active(stop_event_.get(), 0, 0);  // thread-safe once evthread_use_pthreads() ran
    thread_.join();
  }
  stop_event_.reset();
  http_.reset();  // closes the listening socket and any admin connection
  base_.reset();
}

void AdminServer::onStop(evutil_socket_t, short, void* arg) {
  event_base_loopbreak(static_cast<AdminServer*>(arg)->base_.get());
}

void AdminServer::onRequest(evhttp_request* request, void* arg) { static_cast<AdminServer*>(arg)->handle(request); }

void AdminServer::handle(evhttp_request* request) {
  if (evhttp_request_get_command(request) != EVHTTP_REQ_GET) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET");
    reply(request, 405, kText, "method not allowed\n");
    return;
  }
  const std::string_view path = pathOf(evhttp_request_get_uri(request));
  if (path == "/metrics") {
    reply(request, 200, metrics::ExpositionWriter::kContentType, registry_.renderPrometheus(process_counters_()));
  } else if (path == "/healthz") {
    reply(request, 200, kText, "ok\n");
  } else if (path == "/readyz") {
    const bool ready = ready_.load(std::memory_order_relaxed);
    reply(request, ready ? 200 : 503, kText, ready ? "ready\n" : "not ready\n");
  } else if (path == "/cancellations") {
    reply(request, 200, kJson, registry_.recentCancellationsJson(currentConfig()->admin.recent_cancellations));
  } else if (path == "/config") {
    reply(request, 200, kJson, configToJson(*currentConfig()));
  } else {
    reply(request, 404, kText, "not found\n");
  }
}

void AdminServer::reply(evhttp_request* request, int status, std::string_view content_type, std::string_view body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", std::string(content_type).c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(request, status, nullptr, out);
  evbuffer_free(out);
}

}  // namespace tether::admin
