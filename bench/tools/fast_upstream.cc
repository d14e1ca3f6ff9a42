// fast_upstream: the origin server behind every proxy in the macro benchmark.
//
// It must cost as little CPU as possible so that the proxy, not the origin, is what gets measured:
// plain epoll, no allocation per request, keep-alive, pipelining-safe.
//   any request          -> 200, 13-byte body "hello, world\n"
//   GET /big?bytes=N     -> 200, N bytes of 'x' (streamed with back-pressure; used for the slow-reader RSS test)
// Requests must not have bodies (the bench only sends GETs).
// With --h2c it speaks HTTP/2 cleartext with prior knowledge instead (nghttp2 server sessions, no I/O in the
// codec): every stream gets the same 13-byte 200; it advertises 100 concurrent streams per connection, the
// common server default, so a proxy under 500 concurrent requests has to open several connections.
//
// usage: fast_upstream --listen 127.0.0.1:18001 [--threads 1] [--h2c]
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

#include <cerrno>
#include <memory>
#include <thread>
#include <vector>

#include "common.h"

namespace {

constexpr std::string_view kSmallResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n";

struct Conn {
  int fd = -1;
  std::string in;
  std::string out;       // pending response bytes not yet accepted by the kernel
  uint64_t bigLeft = 0;  // body bytes of a /big response still to stream after `out`
  bool closeAfter = false;
  uint32_t mask = EPOLLIN;  // events currently registered with epoll
};

char gFill[256 * 1024];

uint64_t bigBytes(std::string_view head) {
  // "GET /big?bytes=N HTTP/1.1"
  if (head.substr(0, 9) != "GET /big?") return 0;
  auto p = head.find("bytes=");
  auto lineEnd = head.find("\r\n");
  if (p == std::string_view::npos || p > lineEnd) return 0;
  return std::strtoull(head.data() + p + 6, nullptr, 10);
}

// Parses every complete request head in c.in and queues its response (stops after a /big one:
// its body must be streamed before the next response).
void handleRequests(Conn& c) {
  size_t start = 0;
  while (c.bigLeft == 0 && !c.closeAfter) {
    size_t end = c.in.find("\r\n\r\n", start);
    if (end == std::string::npos) break;
    std::string_view head(c.in.data() + start, end + 4 - start);
    std::string_view conn = bench::headerValue(head, "connection");
    if (conn.size() == 5 && strncasecmp(conn.data(), "close", 5) == 0) c.closeAfter = true;
    if (uint64_t n = bigBytes(head)) {
      c.out += "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(n) +
               "\r\n\r\n";
      c.bigLeft = n;
    } else {
      c.out.append(kSmallResponse);
    }
    start = end + 4;
  }
  c.in.erase(0, start);
}

// Writes as much as the kernel takes. Returns true when everything queued has been written.
bool flush(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return false;
    c.out.erase(0, size_t(n));
  }
  while (c.bigLeft > 0) {
    size_t chunk = std::min<uint64_t>(c.bigLeft, sizeof gFill);
    ssize_t n = send(c.fd, gFill, chunk, MSG_NOSIGNAL);
    if (n < 0) return false;
    c.bigLeft -= uint64_t(n);
  }
  return true;
}

// Answers what is complete, writes what it can. Returns false if the connection is done.
bool progress(Conn& c) {
  for (;;) {
    handleRequests(c);
    if (!flush(c)) return errno == EAGAIN;  // response still pending: wait for EPOLLOUT
    if (c.closeAfter) return false;
    if (c.in.find("\r\n\r\n") == std::string::npos) return true;
  }
}

void serve(std::string listenAddr) {
  int lfd = bench::listenOn(listenAddr, /*reusePort=*/true);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{EPOLLIN, {.ptr = nullptr}};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  std::vector<epoll_event> events(1024);
  char buf[16384];

  auto closeConn = [&](Conn* c) {
    close(c->fd);  // also removes it from the epoll set
    delete c;
  };

  for (;;) {
    int n = epoll_wait(ep, events.data(), int(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        int fd;
        while ((fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          bench::setNoDelay(fd);
          auto* c = new Conn;
          c->fd = fd;
          epoll_event ev{EPOLLIN, {.ptr = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      bool dead = false;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r > 0) {
          c->in.append(buf, size_t(r));
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          dead = true;
        }
      }
      if (!dead) dead = !progress(*c);
      if (!dead) {
        // Only watch for writability while a response is stuck; stop reading meanwhile so a
        // slow reader applies back-pressure instead of growing `in`.
        uint32_t want = (!c->out.empty() || c->bigLeft > 0) ? EPOLLOUT : EPOLLIN;
        if (want != c->mask) {
          c->mask = want;
          epoll_event ev{want, {.ptr = c}};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (dead) closeConn(c);
    }
  }
}

// ---------------------------------------------------------------- h2c (prior knowledge)
constexpr std::string_view kBody = "hello, world\n";

struct H2Conn {
  int fd = -1;
  nghttp2_session* session = nullptr;
  std::string out;  // frames nghttp2 produced that the kernel has not taken yet
  uint32_t mask = EPOLLIN;
  ~H2Conn() {
    if (session) nghttp2_session_del(session);
    if (fd >= 0) close(fd);
  }
};

ssize_t readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags, nghttp2_data_source*, void*) {
  size_t n = std::min(len, kBody.size());
  std::memcpy(buf, kBody.data(), n);
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  return ssize_t(n);
}

// A request is complete at END_STREAM (on its HEADERS, or on its last DATA frame): answer it.
int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  bool request = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  if (!request || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
  auto nv = [](std::string_view n, std::string_view v) {
    return nghttp2_nv{(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(),
                      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
  };
  nghttp2_nv hdrs[] = {nv(":status", "200"), nv("content-type", "text/plain"), nv("content-length", "13")};
  nghttp2_data_provider body{};
  body.read_callback = readBody;
  nghttp2_submit_response(session, frame->hd.stream_id, hdrs, 3, &body);
  return 0;
}

nghttp2_session_callbacks* h2Callbacks() {
  static nghttp2_session_callbacks* cbs = [] {  // shared read-only by every thread's sessions
    nghttp2_session_callbacks* c;
    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, onFrameRecv);
    return c;
  }();
  return cbs;
}

// Collects what the session wants to send and writes it. Returns false if the connection is done.
bool h2Flush(H2Conn& c) {
  for (;;) {
    const uint8_t* data;
    ssize_t n = nghttp2_session_mem_send(c.session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    c.out.append(reinterpret_cast<const char*>(data), size_t(n));
  }
  while (!c.out.empty()) {
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN;
    c.out.erase(0, size_t(n));
  }
  return nghttp2_session_want_read(c.session) || nghttp2_session_want_write(c.session);
}

void h2Accept(int ep, int lfd) {
  int fd;
  while ((fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
    bench::setNoDelay(fd);
    auto* c = new H2Conn;
    c->fd = fd;
    nghttp2_session_server_new(&c->session, h2Callbacks(), c);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 1);
    epoll_event ev{EPOLLIN, {.ptr = c}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (!h2Flush(*c)) delete c;
  }
}

// Reads and answers what arrived. Returns false if the connection is done.
bool h2Progress(H2Conn& c, uint32_t events) {
  static thread_local uint8_t buf[16384];
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      ssize_t r = recv(c.fd, buf, sizeof buf, 0);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return false;
      if (r < 0) break;
      if (nghttp2_session_mem_recv(c.session, buf, size_t(r)) < 0) return false;
    }
  }
  return h2Flush(c);
}

void serveH2c(std::string listenAddr) {
  int lfd = bench::listenOn(listenAddr, /*reusePort=*/true);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{EPOLLIN, {.ptr = nullptr}};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  std::vector<epoll_event> events(1024);
  for (;;) {
    int n = epoll_wait(ep, events.data(), int(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        h2Accept(ep, lfd);
        continue;
      }
      auto* c = static_cast<H2Conn*>(events[i].data.ptr);
      if (!h2Progress(*c, events[i].events)) {
        delete c;  // closing the fd also removes it from the epoll set
        continue;
      }
      uint32_t want = c->out.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT;
      if (want != c->mask) {
        c->mask = want;
        epoll_event ev{want, {.ptr = c}};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv};
  if (args.has("--help")) {
    std::puts("usage: fast_upstream --listen 127.0.0.1:18001 [--threads N] [--h2c]");
    return 0;
  }
  std::memset(gFill, 'x', sizeof gFill);
  bench::raiseFdLimit();
  std::string addr = args.get("--listen", "127.0.0.1:18001");
  long threads = args.num("--threads", 1);
  auto loop = args.has("--h2c") ? serveH2c : serve;
  std::vector<std::thread> pool;
  for (long t = 1; t < threads; ++t) pool.emplace_back(loop, addr);
  loop(addr);
}
