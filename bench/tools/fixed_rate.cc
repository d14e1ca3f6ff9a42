// fixed_rate: open-loop HTTP/1.1 keep-alive load at a fixed request rate (what wrk2 would do; Debian has
// no wrk2, and h2load's -r is a *connection* rate, not a request rate).
//
// Request k is due at t0 + k/rate and goes to connection k % connections. Latency is measured from the
// moment the request was DUE, not when it was sent, so a stalled proxy is charged for the requests that
// queued behind it (no coordinated omission). Single thread, epoll, epoll_pwait2 for sub-ms timer precision.
//
// usage: fixed_rate --target 127.0.0.1:18010 --rate 5000 [--connections 50] [--duration-s 10]
//                   [--path /] [--drain-ms 2000] [--spin] [--tls]
// --tls: HTTPS (ALPN http/1.1); every connection's handshake is done before t0 (blocking, at start), so only
// requests on established TLS connections are timed. A connection that breaks reconnects (and handshakes) in
// line, which then counts against the requests queued behind it.
// Prints one JSON object: counts, achieved rate, latency percentiles in microseconds, and the worst
// dispatch lag (how late the tool itself sent a request to an idle connection: if large, the tool, not
// the proxy, was the bottleneck).
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <vector>

#include "common.h"
#include "tls_client.h"

namespace {

struct Conn {
  int fd = -1;
  std::deque<int64_t> queued;  // due times of requests waiting for this connection
  int64_t inflight = -1;       // due time of the request on the wire, -1 if idle
  std::string in;
  SSL* ssl = nullptr;  // with --tls
};

struct Stats {
  std::vector<int64_t> latencyNs;
  long sent = 0, ok = 0, non2xx = 0, errors = 0, reconnects = 0;
  int64_t maxDispatchLagNs = 0;
};

class Load {
 public:
  Load(sockaddr_in sa, std::string request, long connections, SSL_CTX* tls)
      : sa_(sa), request_(std::move(request)), tls_(tls) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(size_t(connections));
    for (size_t i = 0; i < conns_.size(); ++i) connect(i);
  }

  // Queues the request due at `due` on connection i and sends it if the connection is idle.
  void schedule(size_t i, int64_t due) {
    conns_[i].queued.push_back(due);
    if (conns_[i].inflight < 0) {
      stats.maxDispatchLagNs = std::max(stats.maxDispatchLagNs, bench::monoNs() - due);
      sendNext(i);
    }
  }

  void poll(int64_t untilNs) {
    int64_t wait = spin ? 0 : std::max<int64_t>(0, untilNs - bench::monoNs());
    timespec ts{time_t(wait / 1'000'000'000), long(wait % 1'000'000'000)};
    epoll_event events[256];
    int n = epoll_pwait2(ep_, events, 256, &ts, nullptr);
    for (int k = 0; k < n; ++k) onReadable(size_t(events[k].data.u64));
  }

  bool idle() const {
    for (auto& c : conns_)
      if (c.inflight >= 0 || !c.queued.empty()) return false;
    return true;
  }

  long outstanding() const {
    long n = 0;
    for (auto& c : conns_) n += long(c.queued.size()) + (c.inflight >= 0);
    return n;
  }

  Stats stats;
  std::string negotiated;  // --tls: what the first connection negotiated (JSON)
  bool spin = false;       // never sleep: trades a busy CPU for freedom from timer/wake-up jitter

 private:
  void connect(size_t i) {
    Conn& c = conns_[i];
    c.fd = bench::connectTo(sa_);
    if (c.fd < 0) bench::die("connect");
    if (tls_) {
      c.ssl = bench::blockingHandshake(tls_, c.fd);
      if (!c.ssl) bench::die("TLS handshake");
      if (negotiated.empty()) negotiated = bench::negotiatedJson(c.ssl);
    }
    bench::setNonBlocking(c.fd);
    epoll_event ev{EPOLLIN | EPOLLRDHUP, {.u64 = i}};
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void sendNext(size_t i) {
    Conn& c = conns_[i];
    if (c.queued.empty()) return;
    c.inflight = c.queued.front();
    c.queued.pop_front();
    // A tiny request always fits the empty socket buffer of an idle keep-alive connection.
    ssize_t sent = c.ssl ? SSL_write(c.ssl, request_.data(), int(request_.size()))
                         : send(c.fd, request_.data(), request_.size(), MSG_NOSIGNAL);
    if (sent != ssize_t(request_.size())) {
      fail(i);
      return;
    }
    ++stats.sent;
  }

  // The connection broke: its in-flight request is an error; reconnect and carry on with the queue.
  void fail(size_t i) {
    Conn& c = conns_[i];
    if (c.inflight >= 0) ++stats.errors;
    c.inflight = -1;
    c.in.clear();
    if (c.ssl) SSL_free(c.ssl);
    c.ssl = nullptr;
    close(c.fd);
    ++stats.reconnects;
    connect(i);
    sendNext(i);
  }

  void onReadable(size_t i) {
    Conn& c = conns_[i];
    char buf[16384];
    for (;;) {
      ssize_t r = c.ssl ? SSL_read(c.ssl, buf, sizeof buf) : recv(c.fd, buf, sizeof buf, 0);
      if (r > 0) {
        c.in.append(buf, size_t(r));
        continue;
      }
      if (c.ssl ? SSL_get_error(c.ssl, int(r)) == SSL_ERROR_WANT_READ : (r < 0 && (errno == EAGAIN || errno == EINTR)))
        break;
      fail(i);
      return;
    }
    while (c.inflight >= 0 && parseResponse(c)) sendNext(i);
  }

  // Consumes one complete response from c.in if there is one.
  bool parseResponse(Conn& c) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string_view head(c.in.data(), end + 4);
    std::string_view cl = bench::headerValue(head, "content-length");
    size_t total = end + 4 + size_t(std::atol(std::string(cl).c_str()));  // bench responses always have it
    if (c.in.size() < total) return false;
    int status = head.size() > 12 ? std::atoi(head.data() + 9) : 0;
    stats.latencyNs.push_back(bench::monoNs() - c.inflight);
    (status >= 200 && status < 300 ? stats.ok : stats.non2xx)++;
    c.in.erase(0, total);
    c.inflight = -1;
    return true;
  }

  sockaddr_in sa_;
  std::string request_;
  SSL_CTX* tls_;
  int ep_;
  std::vector<Conn> conns_;
};

double percentileUs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t idx = std::min(v.size() - 1, size_t(p / 100.0 * double(v.size())));
  return double(v[idx]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv};
  std::string target = args.get("--target", "");
  if (args.has("--help") || target.empty()) {
    std::fputs("usage: fixed_rate --target ADDR --rate R [--connections 50] [--duration-s 10] [--path /] [--tls]\n",
               stderr);
    return args.has("--help") ? 0 : 2;
  }
  bench::raiseFdLimit();
  double rate = double(args.num("--rate", 1000));
  long connections = args.num("--connections", 50), durationS = args.num("--duration-s", 10);
  int64_t drainNs = args.num("--drain-ms", 2000) * 1'000'000;
  std::string req = "GET " + args.get("--path", "/") + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";

  SSL_CTX* tls = args.has("--tls") ? bench::makeClientCtx(std::string("\x08http/1.1"), false) : nullptr;
  Load load(bench::parseAddr(target), req, connections, tls);
  load.spin = args.has("--spin");
  long total = long(rate * double(durationS));
  int64_t t0 = bench::monoNs() + 1'000'000;
  long next = 0;
  while (next < total) {
    int64_t now = bench::monoNs();
    for (; next < total && t0 + int64_t(double(next) * 1e9 / rate) <= now; ++next)
      load.schedule(size_t(next % connections), t0 + int64_t(double(next) * 1e9 / rate));
    if (next < total) load.poll(t0 + int64_t(double(next) * 1e9 / rate));
  }
  int64_t end = bench::monoNs() + drainNs;
  while (!load.idle() && bench::monoNs() < end) load.poll(std::min(end, bench::monoNs() + 10'000'000));
  double elapsed = double(bench::monoNs() - t0) / 1e9;

  Stats& s = load.stats;
  std::sort(s.latencyNs.begin(), s.latencyNs.end());
  std::printf(
      "{\"rate\":%.0f,\"connections\":%ld,\"duration_s\":%ld,\"scheduled\":%ld,\"sent\":%ld,\"ok\":%ld,"
      "\"non2xx\":%ld,\"errors\":%ld,\"unfinished\":%ld,\"reconnects\":%ld,\"achieved_rps\":%.1f,"
      "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
      "\"max_dispatch_lag_us\":%.1f,\"negotiated\":%s}\n",
      rate, connections, durationS, total, s.sent, s.ok, s.non2xx, s.errors, load.outstanding(), s.reconnects,
      double(s.ok + s.non2xx) / elapsed, percentileUs(s.latencyNs, 50), percentileUs(s.latencyNs, 90),
      percentileUs(s.latencyNs, 99), percentileUs(s.latencyNs, 99.9),
      s.latencyNs.empty() ? 0.0 : double(s.latencyNs.back()) / 1000.0, double(s.maxDispatchLagNs) / 1000.0,
      load.negotiated.empty() ? "null" : load.negotiated.c_str());
  return 0;
}
