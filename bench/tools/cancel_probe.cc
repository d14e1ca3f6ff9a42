// cancel_probe: measures how fast a proxy propagates a client's abort to the upstream.
//
// One process plays both ends so both timestamps come from the same CLOCK_MONOTONIC:
//   * a slow upstream (own thread, epoll) that never answers requests carrying `x-probe-id`; it records
//     when each request arrives and when the proxy closes (FIN) or resets (RST) the upstream connection
//     that carried it;
//   * a client that, per probe, sends GET /slow/<id> through the proxy, waits until the upstream has the
//     request, then aborts: `fin` = close(), `rst` = SO_LINGER{1,0} + close(), `h2rst` = RST_STREAM(CANCEL)
//     on an h2c (prior knowledge) connection that stays open.
// With --upstream-protocol h2c the slow upstream speaks HTTP/2 cleartext (prior knowledge) instead: each probe is
// one stream, and "noticed" is the arrival of RST_STREAM on that stream (its error code is counted, so the JSON
// says what each proxy sends: CANCEL, INTERNAL_ERROR, ...) or, for a proxy that closes the connection instead,
// the close. The upstream advertises 100 concurrent streams, so a proxy can keep one connection for all probes.
// Result: noticed - aborted per probe, as JSON on stdout. Probes run one after another; a probe not noticed
// within --settle-ms does not hold up the next one, and every probe gets --window-ms to be noticed.
// Requests without x-probe-id get a small 200 so the proxies can be warmed up through the same route.
//
// With --tls the client side is TLS (ALPN http/1.1, or h2 for h2rst; handshake before the request): `fin` then
// closes without close_notify, `rst` resets, `h2rst` resets the stream inside TLS, and `close_notify` (TLS only)
// sends the close_notify alert and keeps the TCP connection open until the measurement is over.
//
// usage: cancel_probe --upstream 127.0.0.1:18002 --target 127.0.0.1:18010 --kind fin|rst|h2rst|close_notify
//                     [--count 200] [--window-ms 2000] [--settle-ms 20] [--receive-timeout-ms 2000]
//                     [--upstream-protocol http1|h2c] [--tls]
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "tls_client.h"

namespace {

enum class Seen : uint8_t { None, Fin, Rst, RstStream };

// Shared between the upstream thread and the client (main) thread.
struct Probes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> received, aborted, noticed;
  std::vector<Seen> how;
  std::vector<uint32_t> code;  // the RST_STREAM error code when how == RstStream
  explicit Probes(size_t n) : received(n, 0), aborted(n, 0), noticed(n, 0), how(n, Seen::None), code(n, 0) {}

  void markReceived(long id, int64_t t) {
    std::lock_guard lk(mu);
    if (id >= 0 && size_t(id) < received.size() && received[id] == 0) received[id] = t;
    cv.notify_all();
  }
  void markNoticed(long id, int64_t t, Seen s, uint32_t errorCode = 0) {
    std::lock_guard lk(mu);
    if (id >= 0 && size_t(id) < noticed.size() && noticed[id] == 0) {
      noticed[id] = t;
      how[id] = s;
      code[id] = errorCode;
    }
    cv.notify_all();
  }
  // Waits until slot[id] is set or the deadline passes; true if set.
  bool waitFor(std::vector<int64_t>& slot, long id, int64_t timeoutNs) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, std::chrono::nanoseconds(timeoutNs), [&] { return slot[id] != 0; });
  }
};

constexpr std::string_view kSmallResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n";

// ---------------------------------------------------------------- slow upstream
class SlowUpstream {
 public:
  SlowUpstream(const std::string& addr, Probes& probes, bool h2c) : probes_(probes), h2c_(h2c) {
    lfd_ = bench::listenOn(addr, false);
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    stop_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    add(lfd_, EPOLLIN);
    add(stop_, EPOLLIN);
    thread_ = std::thread([this] { run(); });
  }
  ~SlowUpstream() {
    uint64_t one = 1;
    (void)!write(stop_, &one, sizeof one);
    thread_.join();
    for (auto& [fd, c] : conns_) {
      if (c.h2) nghttp2_session_del(c.h2);
      close(fd);
    }
    close(lfd_);
    close(stop_);
    close(ep_);
  }

 private:
  struct Conn {
    std::string in;
    long probe = -1;  // id of the held request on this connection, -1 if none (HTTP/1.1)
    // h2c: the session, and the probe id of each stream that carried one (held, never answered).
    nghttp2_session* h2 = nullptr;
    std::map<int32_t, long> streams;
    SlowUpstream* owner = nullptr;
    int fd = -1;
  };

  void add(int fd, uint32_t events) {
    epoll_event ev{events, {.fd = fd}};
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }

  void run() {
    epoll_event events[256];
    for (;;) {
      int n = epoll_wait(ep_, events, 256, -1);
      int64_t now = bench::monoNs();  // one timestamp per wake-up: the moment we learned of the events
      now_ = now;
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_) return;
        if (fd == lfd_) {
          acceptAll();
          continue;
        }
        onReadable(fd, now);
      }
    }
  }

  void acceptAll() {
    int fd;
    while ((fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
      bench::setNoDelay(fd);
      Conn& c = conns_[fd] = Conn{};
      c.owner = this;
      c.fd = fd;
      if (h2c_) startH2(c);
      add(fd, EPOLLIN | EPOLLRDHUP);
    }
  }

  // ------------------------------------------------ h2c
  void startH2(Conn& c) {
    static nghttp2_session_callbacks* cbs = [] {
      nghttp2_session_callbacks* cb;
      nghttp2_session_callbacks_new(&cb);
      nghttp2_session_callbacks_set_on_header_callback(cb, onHeader);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cb, onFrameRecv);
      return cb;
    }();
    // The Conn lives in an unordered_map node: its address is stable until erased.
    nghttp2_session_server_new(&c.h2, cbs, &c);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    nghttp2_submit_settings(c.h2, NGHTTP2_FLAG_NONE, settings, 1);
    h2Send(c);
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* c = static_cast<Conn*>(user);
    if (frame->hd.type == NGHTTP2_HEADERS && std::string_view((const char*)name, namelen) == "x-probe-id")
      c->streams[frame->hd.stream_id] = std::atol(std::string((const char*)value, valuelen).c_str());
    return 0;
  }

  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<Conn*>(user);
    auto it = c->streams.find(frame->hd.stream_id);
    long probe = it == c->streams.end() ? -1 : it->second;
    if (frame->hd.type == NGHTTP2_RST_STREAM && probe >= 0) {
      c->owner->probes_.markNoticed(probe, c->owner->now_, Seen::RstStream, frame->rst_stream.error_code);
      c->streams.erase(it);
    } else if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS)) {
      if (probe >= 0)
        c->owner->probes_.markReceived(probe, c->owner->now_);  // held: never answered
      else
        answerSmall(session, frame->hd.stream_id);  // warm-up requests through the same route
    }
    return 0;
  }

  static ssize_t readSmallBody(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                               nghttp2_data_source*, void*) {
    constexpr std::string_view body = "hello, world\n";
    size_t n = std::min(len, body.size());
    std::memcpy(buf, body.data(), n);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return ssize_t(n);
  }

  static void answerSmall(nghttp2_session* session, int32_t stream) {
    auto nv = [](const char* n, const char* v) {
      return nghttp2_nv{(uint8_t*)n, (uint8_t*)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE};
    };
    nghttp2_nv hdrs[] = {nv(":status", "200"), nv("content-length", "13")};
    nghttp2_data_provider body{};
    body.read_callback = readSmallBody;
    nghttp2_submit_response(session, stream, hdrs, 2, &body);
  }

  // The upstream side sends little (SETTINGS, their ACKs, small answers): blocking-style writes are fine.
  static void h2Send(Conn& c) {
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c.h2, &data)) > 0) (void)!sendAll(c.fd, data, size_t(n));
  }

  void onReadable(int fd, int64_t now) {
    Conn& c = conns_[fd];
    char buf[8192];
    for (;;) {
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        c.in.append(buf, size_t(r));
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      // r == 0: orderly close (FIN); r < 0: reset or other error. h2c: every stream still held on it, after the
      // frames that arrived with the close (a proxy may send RST_STREAM, GOAWAY and FIN in one write).
      if (c.h2 && !c.in.empty()) {
        nghttp2_session_mem_recv(c.h2, reinterpret_cast<const uint8_t*>(c.in.data()), c.in.size());
        c.in.clear();
      }
      Seen how = r == 0 ? Seen::Fin : Seen::Rst;
      probes_.markNoticed(c.probe, now, how);
      for (auto [stream, probe] : c.streams) probes_.markNoticed(probe, now, how);
      if (c.h2) nghttp2_session_del(c.h2);
      close(fd);
      conns_.erase(fd);
      return;
    }
    if (c.h2) {
      nghttp2_session_mem_recv(c.h2, reinterpret_cast<const uint8_t*>(c.in.data()), c.in.size());
      c.in.clear();
      h2Send(c);
    } else {
      parseRequests(fd, c, now);
    }
  }

  void parseRequests(int fd, Conn& c, int64_t now) {
    size_t end;
    while (c.probe < 0 && (end = c.in.find("\r\n\r\n")) != std::string::npos) {
      std::string_view head(c.in.data(), end + 4);
      std::string_view id = bench::headerValue(head, "x-probe-id");
      if (!id.empty()) {
        c.probe = std::atol(std::string(id).c_str());
        probes_.markReceived(c.probe, now);  // held: never answered
      } else {
        (void)!send(fd, kSmallResponse.data(), kSmallResponse.size(), MSG_NOSIGNAL);
      }
      c.in.erase(0, end + 4);
    }
  }

  static ssize_t sendAll(int fd, const void* data, size_t len) {
    size_t done = 0;
    while (done < len) {
      ssize_t n = send(fd, static_cast<const char*>(data) + done, len - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0) return -1;
      done += size_t(n);
    }
    return ssize_t(len);
  }

  Probes& probes_;
  bool h2c_;
  int64_t now_ = 0;  // the current wake-up's timestamp, for the nghttp2 callbacks
  int lfd_, ep_, stop_;
  std::unordered_map<int, Conn> conns_;
  std::thread thread_;
};

// ---------------------------------------------------------------- clients
std::string h1Request(long id, const std::string& target) {
  return "GET /slow/" + std::to_string(id) + " HTTP/1.1\r\nHost: " + target + "\r\nx-probe-id: " + std::to_string(id) +
         "\r\n\r\n";
}

ssize_t sendAll(int fd, const void* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, static_cast<const char*>(data) + done, len - done, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    done += size_t(n);
  }
  return ssize_t(len);
}

// One client connection: a socket, TLS on it with --tls. Non-blocking once set up (the h2 client drains it).
struct Wire {
  int fd = -1;
  SSL* ssl = nullptr;

  bool open(const sockaddr_in& sa, SSL_CTX* tls) {
    fd = bench::connectTo(sa);
    if (fd >= 0 && tls) ssl = bench::blockingHandshake(tls, fd);
    return fd >= 0 && (!tls || ssl);
  }

  ssize_t write(const void* data, size_t len) {
    if (!ssl) return sendAll(fd, data, len);
    for (;;) {  // a few hundred bytes: a non-blocking socket takes them at once, else retry
      int n = SSL_write(ssl, data, int(len));
      if (n > 0) return n;
      if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_WRITE) return -1;
    }
  }

  ssize_t read(void* buf, size_t len) {
    if (!ssl) return recv(fd, buf, len, MSG_DONTWAIT);
    int n = SSL_read(ssl, buf, int(len));
    return n > 0 ? n : -1;
  }

  void close() {
    if (ssl) SSL_free(ssl);  // no close_notify: SSL_free sends nothing
    if (fd >= 0) ::close(fd);
    ssl = nullptr;
    fd = -1;
  }
};

// An h2c client connection with one request whose stream can be reset.
struct H2Client {
  Wire* wire = nullptr;  // on the heap, so H2Client stays copyable and nghttp2's user pointer stays valid
  nghttp2_session* session = nullptr;
  int32_t stream = -1;

  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* user) {
    return static_cast<Wire*>(user)->write(data, len) < 0 ? ssize_t(NGHTTP2_ERR_CALLBACK_FAILURE) : ssize_t(len);
  }

  bool start(const sockaddr_in& sa, SSL_CTX* tls, const std::string& authority, long id) {
    wire = new Wire;
    if (!wire->open(sa, tls)) return false;
    if (tls) bench::setNonBlocking(wire->fd);
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, onSend);
    nghttp2_session_client_new(&session, cbs, wire);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
    std::string path = "/slow/" + std::to_string(id), idStr = std::to_string(id);
    auto nv = [](const char* n, const std::string& v) {
      return nghttp2_nv{(uint8_t*)n, (uint8_t*)v.data(), strlen(n), v.size(), NGHTTP2_NV_FLAG_NONE};
    };
    std::string get = "GET", http = tls ? "https" : "http";
    nghttp2_nv hdrs[] = {nv(":method", get), nv(":scheme", http), nv(":authority", authority), nv(":path", path),
                         nv("x-probe-id", idStr)};
    stream = nghttp2_submit_request(session, nullptr, hdrs, 5, nullptr, nullptr);
    return stream > 0 && nghttp2_session_send(session) == 0;
  }

  // Feeds whatever the proxy sent so far (SETTINGS etc.) so our RST_STREAM goes out after a proper ACK.
  void drain() {
    uint8_t buf[16384];
    ssize_t n;
    while ((n = wire->read(buf, sizeof buf)) > 0) nghttp2_session_mem_recv(session, buf, size_t(n));
  }

  void submitReset() { nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream, NGHTTP2_CANCEL); }
  void flush() { nghttp2_session_send(session); }

  void close() {
    if (session) nghttp2_session_del(session);
    if (wire) wire->close();
    delete wire;
    session = nullptr;
    wire = nullptr;
  }
};

struct Options {
  std::string upstream, target, kind;
  long count, windowMs, settleMs, receiveTimeoutMs;
  std::string upstreamProtocol = "http1";
  SSL_CTX* tls = nullptr;  // --tls
};

// Runs all probes; returns the h2 clients and close_notify connections still open (closed after the measurement).
std::vector<H2Client> runProbes(const Options& o, Probes& probes, long& failedConnect, long& notReceived,
                                std::vector<Wire>& keepWires) {
  sockaddr_in sa = bench::parseAddr(o.target);
  std::vector<H2Client> keep;
  for (long id = 0; id < o.count; ++id) {
    H2Client h2;
    Wire w;
    if (o.kind == "h2rst") {
      if (!h2.start(sa, o.tls, o.target, id)) {
        ++failedConnect;
        h2.close();
        continue;
      }
    } else {
      std::string req = h1Request(id, o.target);
      if (!w.open(sa, o.tls) || w.write(req.data(), req.size()) < 0) {
        ++failedConnect;
        w.close();
        continue;
      }
    }
    // Abort only once the upstream holds the request: otherwise we would time the proxy's connect.
    if (!probes.waitFor(probes.received, id, o.receiveTimeoutMs * 1'000'000)) {
      ++notReceived;
      w.close();
      h2.close();
      continue;
    }
    if (o.kind == "rst") {
      linger lg{1, 0};
      setsockopt(w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (o.kind == "h2rst") {
      h2.drain();
      h2.submitReset();
    }
    int64_t t = bench::monoNs();
    if (o.kind == "h2rst")
      h2.flush();
    else if (o.kind == "close_notify")
      SSL_shutdown(w.ssl);  // the alert only; the TCP connection stays open
    else
      w.close();
    {
      std::lock_guard lk(probes.mu);
      probes.aborted[id] = t;
    }
    if (o.kind == "h2rst") keep.push_back(h2);
    if (o.kind == "close_notify") keepWires.push_back(w);
    probes.waitFor(probes.noticed, id, o.settleMs * 1'000'000);
  }
  return keep;
}

// Waits until every aborted probe was noticed or had its full window.
void waitForStragglers(const Options& o, Probes& probes) {
  int64_t last = 0;
  {
    std::lock_guard lk(probes.mu);
    for (auto a : probes.aborted) last = std::max(last, a);
  }
  int64_t deadline = last + o.windowMs * 1'000'000;
  std::unique_lock lk(probes.mu);
  while (bench::monoNs() < deadline) {
    bool all = true;
    for (size_t i = 0; i < probes.aborted.size(); ++i)
      if (probes.aborted[i] && !probes.noticed[i]) all = false;
    if (all) break;
    probes.cv.wait_for(lk, std::chrono::milliseconds(10));
  }
}

void printJson(const Options& o, Probes& probes, long failedConnect, long notReceived) {
  std::lock_guard lk(probes.mu);
  long aborted = 0, noticed = 0, late = 0, fin = 0, rst = 0, rstStream = 0, early = 0;
  std::map<std::string, long> codes;  // RST_STREAM error code name -> count
  std::string deltas;
  for (size_t i = 0; i < probes.aborted.size(); ++i) {
    if (!probes.aborted[i]) continue;
    ++aborted;
    if (!probes.noticed[i]) continue;
    int64_t d = probes.noticed[i] - probes.aborted[i];
    if (d < 0) {
      ++early;  // upstream connection went away before we aborted: not caused by the abort
      continue;
    }
    if (d > o.windowMs * 1'000'000) {
      ++late;
      continue;
    }
    ++noticed;
    if (probes.how[i] == Seen::RstStream) {
      ++rstStream;
      ++codes[nghttp2_http2_strerror(probes.code[i])];
    } else {
      (probes.how[i] == Seen::Rst ? rst : fin)++;
    }
    if (!deltas.empty()) deltas += ',';
    deltas += std::to_string(double(d) / 1000.0);
  }
  std::string codeJson;
  for (auto& [name, n] : codes) codeJson += (codeJson.empty() ? "\"" : ",\"") + name + "\":" + std::to_string(n);
  std::printf(
      "{\"kind\":\"%s\",\"tls\":%s,\"upstream_protocol\":\"%s\",\"upstream_saw_rst_stream\":%ld,\"rst_stream_codes\":{%"
      "s},"
      "\"target\":\"%s\",\"count\":%ld,\"failed_connect\":%ld,\"not_received\":%ld,"
      "\"aborted\":%ld,\"noticed\":%ld,\"late\":%ld,\"early\":%ld,\"upstream_saw_fin\":%ld,"
      "\"upstream_saw_rst\":%ld,\"window_ms\":%ld,\"deltas_us\":[%s]}\n",
      o.kind.c_str(), o.tls ? "true" : "false", o.upstreamProtocol.c_str(), rstStream, codeJson.c_str(),
      o.target.c_str(), o.count, failedConnect, notReceived, aborted, noticed, late, early, fin, rst, o.windowMs,
      deltas.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv};
  Options o{args.get("--upstream", "127.0.0.1:18002"),
            args.get("--target", ""),
            args.get("--kind", "fin"),
            args.num("--count", 200),
            args.num("--window-ms", 2000),
            args.num("--settle-ms", 20),
            args.num("--receive-timeout-ms", 2000)};
  o.upstreamProtocol = args.get("--upstream-protocol", "http1");
  bool badProto = o.upstreamProtocol != "http1" && o.upstreamProtocol != "h2c";
  bool tls = args.has("--tls");
  bool badKind = o.kind != "fin" && o.kind != "rst" && o.kind != "h2rst" && (o.kind != "close_notify" || !tls);
  if (args.has("--help") || o.target.empty() || badProto || badKind) {
    std::fputs(
        "usage: cancel_probe --upstream ADDR --target ADDR --kind fin|rst|h2rst|close_notify [--count N]\n"
        "       [--window-ms 2000] [--settle-ms 20] [--receive-timeout-ms 2000] [--upstream-protocol http1|h2c]\n"
        "       [--tls] (close_notify: with --tls only)\n",
        stderr);
    return args.has("--help") ? 0 : 2;
  }
  if (tls) o.tls = bench::makeClientCtx(o.kind == "h2rst" ? std::string("\x02h2") : std::string("\x08http/1.1"), false);
  bench::raiseFdLimit();
  Probes probes(size_t(std::max(o.count, 1L)));
  long failedConnect = 0, notReceived = 0;
  std::vector<H2Client> keep;
  std::vector<Wire> keepWires;
  {
    SlowUpstream upstream(o.upstream, probes, o.upstreamProtocol == "h2c");
    keep = runProbes(o, probes, failedConnect, notReceived, keepWires);
    waitForStragglers(o, probes);
    printJson(o, probes, failedConnect, notReceived);
  }  // the upstream stops here, before the kept h2 clients close, so their closing is never counted
  for (auto& c : keep) c.close();
  for (auto& w : keepWires) w.close();
  return 0;
}
