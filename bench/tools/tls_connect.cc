// tls_connect: new TLS connections per second through a proxy. N connections at a time, each does
// TCP connect + TLS handshake + one `GET` (Connection: close) + its response, then sends close_notify and
// closes; the slot opens the next one at once, until --duration-s has passed.
//
// Full handshakes by default (no session offered). With --resume each of the N slots offers the latest ticket its
// own previous connection received, as a client that reconnects does (wrk keeps its SSL object the same way). A
// ticket is not shared between slots: OpenSSL's TLS 1.3 client uses a session for one resumption only, so a second
// connection given the same SSL_SESSION would quietly send no ticket at all. With working tickets every connection
// that offers one resumes (resumed % = resumed / offered; a slot's first connection has nothing to offer); the
// harness flags a proxy below 99%.
//
// usage: tls_connect --target 127.0.0.1:18012 [--concurrency 50] [--duration-s 10] [--count N] [--path /]
//                    [--resume] [--alpn http/1.1]
// --count N stops after N connections (bench/instructions counts instructions per new connection with it).
// Prints one JSON object: connections completed, errors, conn/s, handshake p50/p99 (connect() to handshake
// done, so TCP's round trip is in it), whole connection p50/p99, resumed count and %, and what the first
// connection negotiated (version, suite, group, ALPN).
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common.h"
#include "tls_client.h"

namespace {

enum class Phase { Handshake, Write, Read };

struct Slot {
  int fd = -1;
  SSL* ssl = nullptr;
  Phase phase = Phase::Handshake;
  int64_t startNs = 0;
  std::string in;
};

struct Stats {
  std::vector<int64_t> handshakeNs, totalNs;
  long done = 0, errors = 0, offered = 0, resumed = 0;  // offered: connections that had a ticket to offer
  std::string negotiated;
};

class Connector {
 public:
  Connector(sockaddr_in sa, std::string request, bool resume, const std::string& alpn)
      : sa_(sa), request_(std::move(request)), resume_(resume) {
    ctx_ = bench::makeClientCtx(alpn, resume);
    if (resume) {
      SSL_CTX_set_app_data(ctx_, this);
      SSL_CTX_sess_set_new_cb(ctx_, &Connector::onNewSession);
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
  }

  ~Connector() {
    for (SSL_SESSION* kept : sessions_)
      if (kept) SSL_SESSION_free(kept);
    SSL_CTX_free(ctx_);
    close(ep_);
  }

  void run(long concurrency, int64_t deadlineNs, long count) {
    deadlineNs_ = deadlineNs;
    left_ = count;
    slots_.resize(size_t(concurrency));
    sessions_.assign(size_t(concurrency), nullptr);
    for (size_t i = 0; i < slots_.size(); ++i) open(i);
    epoll_event events[256];
    while (open_ > 0) {
      int n = epoll_wait(ep_, events, 256, 100);
      for (int k = 0; k < n; ++k) drive(size_t(events[k].data.u64));
      if (bench::monoNs() > deadlineNs_ + 5'000'000'000) break;  // a stuck connection must not hang the run
    }
  }

  Stats stats;

 private:
  // The session ticket the server just sent becomes the one the slot's next connection offers.
  static int onNewSession(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<Connector*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    SSL_SESSION*& kept = self->sessions_[reinterpret_cast<uintptr_t>(SSL_get_app_data(ssl))];
    if (kept) SSL_SESSION_free(kept);
    kept = session;
    return 1;  // we own it now
  }

  void open(size_t i) {
    Slot& s = slots_[i];
    s = Slot{};
    if (bench::monoNs() >= deadlineNs_ || left_ == 0) return;
    --left_;
    s.startNs = bench::monoNs();
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s.fd < 0) bench::die("socket");
    bench::setNoDelay(s.fd);
    if (connect(s.fd, reinterpret_cast<const sockaddr*>(&sa_), sizeof sa_) != 0 && errno != EINPROGRESS) {
      ++stats.errors;
      close(s.fd);
      s.fd = -1;
      return;
    }
    s.ssl = SSL_new(ctx_);
    SSL_set_fd(s.ssl, s.fd);
    SSL_set_tlsext_host_name(s.ssl, "localhost");
    SSL_set_app_data(s.ssl, reinterpret_cast<void*>(uintptr_t(i)));
    if (resume_ && sessions_[i] && SSL_SESSION_is_resumable(sessions_[i])) {
      SSL_set_session(s.ssl, sessions_[i]);
      ++stats.offered;
    }
    epoll_event ev{EPOLLOUT, {.u64 = i}};  // writable = TCP connected; SSL_connect then sends ClientHello
    epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev);
    ++open_;
  }

  // Advances slot i as far as it goes without blocking.
  void drive(size_t i) {
    Slot& s = slots_[i];
    for (;;) {
      int r = 0;
      if (s.phase == Phase::Handshake) {
        r = SSL_connect(s.ssl);
        if (r == 1) {
          stats.handshakeNs.push_back(bench::monoNs() - s.startNs);
          if (SSL_session_reused(s.ssl)) ++stats.resumed;
          if (stats.negotiated.empty()) stats.negotiated = bench::negotiatedJson(s.ssl);
          s.phase = Phase::Write;
          continue;
        }
      } else if (s.phase == Phase::Write) {
        r = SSL_write(s.ssl, request_.data(), int(request_.size()));
        if (r > 0) {
          s.phase = Phase::Read;
          continue;
        }
      } else {
        char buf[16384];
        r = SSL_read(s.ssl, buf, sizeof buf);
        if (r > 0) {
          s.in.append(buf, size_t(r));
          if (responseComplete(s.in)) return finish(i, true);
          continue;
        }
      }
      int err = SSL_get_error(s.ssl, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        epoll_event ev{err == SSL_ERROR_WANT_READ ? uint32_t(EPOLLIN) : uint32_t(EPOLLOUT), {.u64 = i}};
        epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
        return;
      }
      ERR_clear_error();
      return finish(i, false);
    }
  }

  void finish(size_t i, bool ok) {
    Slot& s = slots_[i];
    if (ok) {
      stats.totalNs.push_back(bench::monoNs() - s.startNs);
      ++stats.done;
      SSL_shutdown(s.ssl);  // close_notify, as a polite client sends; no wait for the proxy's
    } else {
      ++stats.errors;
    }
    SSL_free(s.ssl);
    close(s.fd);  // also removes it from epoll
    --open_;
    open(i);
  }

  static bool responseComplete(const std::string& in) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string_view cl = bench::headerValue(std::string_view(in.data(), end + 4), "content-length");
    return in.size() >= end + 4 + size_t(std::atol(std::string(cl).c_str()));
  }

  sockaddr_in sa_;
  std::string request_;
  bool resume_;
  SSL_CTX* ctx_;
  std::vector<SSL_SESSION*> sessions_;  // per slot: the latest ticket its connections received
  int ep_;
  int64_t deadlineNs_ = 0;
  long open_ = 0;
  long left_ = -1;  // connections still to start; -1: no limit
  std::vector<Slot> slots_;
};

double percentileUs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return double(v[std::min(v.size() - 1, size_t(p / 100.0 * double(v.size())))]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv};
  std::string target = args.get("--target", "");
  if (args.has("--help") || target.empty()) {
    std::fputs(
        "usage: tls_connect --target ADDR [--concurrency 50] [--duration-s 10] [--count N] [--path /] [--resume] "
        "[--alpn http/1.1]\n",
        stderr);
    return args.has("--help") ? 0 : 2;
  }
  bench::raiseFdLimit();
  long concurrency = args.num("--concurrency", 50), durationS = args.num("--duration-s", 10);
  bool resume = args.has("--resume");
  std::string alpnName = args.get("--alpn", "http/1.1");
  std::string alpn = std::string(1, char(alpnName.size())) + alpnName;
  std::string req = "GET " + args.get("--path", "/") + " HTTP/1.1\r\nHost: " + target + "\r\nConnection: close\r\n\r\n";

  Connector c(bench::parseAddr(target), req, resume, alpn);
  int64_t t0 = bench::monoNs();
  c.run(concurrency, t0 + durationS * 1'000'000'000, args.num("--count", -1));
  double elapsed = double(bench::monoNs() - t0) / 1e9;
  Stats& s = c.stats;
  std::printf(
      "{\"concurrency\":%ld,\"duration_s\":%ld,\"resume\":%s,\"connections\":%ld,\"errors\":%ld,"
      "\"conn_per_s\":%.1f,\"handshake_p50_us\":%.1f,\"handshake_p99_us\":%.1f,\"total_p50_us\":%.1f,"
      "\"total_p99_us\":%.1f,\"offered\":%ld,\"resumed\":%ld,\"resumed_pct\":%.2f,\"negotiated\":%s}\n",
      concurrency, durationS, resume ? "true" : "false", s.done, s.errors, double(s.done) / elapsed,
      percentileUs(s.handshakeNs, 50), percentileUs(s.handshakeNs, 99), percentileUs(s.totalNs, 50),
      percentileUs(s.totalNs, 99), s.offered, s.resumed,
      s.offered ? 100.0 * double(s.resumed) / double(s.offered) : 0.0,
      s.negotiated.empty() ? "{}" : s.negotiated.c_str());
  return 0;
}
