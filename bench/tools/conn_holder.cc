// conn_holder: opens N keep-alive client connections to a proxy, does one GET on each, then keeps them
// all open and idle so the proxy's memory per idle connection can be read from /proc.
//
// Prints "ready <ok> <failed>" on stdout once every connection has its response (or failed), then holds
// until stdin reaches EOF or --hold-s passes, then closes everything.
//
// usage: conn_holder --target 127.0.0.1:18010 --connections 10000 [--path /] [--hold-s 60]
//                    [--batch 500] [--timeout-s 30] [--tls]
// --tls: HTTPS (ALPN http/1.1); each connection's handshake and request are done blocking, one after another,
// before the batch waits for the responses (the proxy's memory per idle TLS connection is what is measured).
#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>
#include <vector>

#include "common.h"
#include "tls_client.h"

namespace {

struct Conn {
  int fd = -1;
  std::string in;
  bool done = false;
  SSL* ssl = nullptr;  // with --tls
};

bool responseComplete(const std::string& in) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string_view cl = bench::headerValue(std::string_view(in.data(), end + 4), "content-length");
  return in.size() >= end + 4 + size_t(std::atol(std::string(cl).c_str()));
}

// Connects and sends a request on conns[from, to), then waits for those responses. Working in batches
// keeps the listen backlogs of the proxies from overflowing (SYN retries would add seconds).
void openBatch(std::vector<Conn>& conns, size_t from, size_t to, const sockaddr_in& sa, const std::string& req,
               int64_t deadlineNs, SSL_CTX* tls, long& ok, long& failed) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  size_t pending = 0;
  for (size_t i = from; i < to; ++i) {
    Conn& c = conns[i];
    c.fd = bench::connectTo(sa);
    if (c.fd >= 0 && tls) c.ssl = bench::blockingHandshake(tls, c.fd);
    bool sent = c.fd >= 0 && (tls ? c.ssl && SSL_write(c.ssl, req.data(), int(req.size())) == int(req.size())
                                  : send(c.fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size()));
    if (!sent) {
      ++failed;
      c.done = true;
      continue;
    }
    bench::setNonBlocking(c.fd);
    epoll_event ev{EPOLLIN, {.u64 = i}};
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    ++pending;
  }
  epoll_event events[512];
  char buf[16384];
  while (pending > 0 && bench::monoNs() < deadlineNs) {
    int n = epoll_wait(ep, events, 512, 100);
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u64];
      ssize_t r;
      bool closed;
      if (c.ssl) {
        while ((r = SSL_read(c.ssl, buf, sizeof buf)) > 0) c.in.append(buf, size_t(r));
        closed = r <= 0 && SSL_get_error(c.ssl, int(r)) != SSL_ERROR_WANT_READ;
      } else {
        while ((r = recv(c.fd, buf, sizeof buf, 0)) > 0) c.in.append(buf, size_t(r));
        closed = r == 0 || (r < 0 && errno != EAGAIN);
      }
      if (c.done) continue;
      if (responseComplete(c.in)) {
        ++ok;
      } else if (!closed) {
        continue;
      } else {
        ++failed;
      }
      c.done = true;
      c.in.clear();
      c.in.shrink_to_fit();
      --pending;
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    }
  }
  failed += long(pending);  // timed out
  close(ep);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv};
  std::string target = args.get("--target", "");
  if (args.has("--help") || target.empty()) {
    std::fputs("usage: conn_holder --target ADDR --connections N [--path /] [--hold-s 60] [--batch 500] [--tls]\n",
               stderr);
    return args.has("--help") ? 0 : 2;
  }
  bench::raiseFdLimit();
  size_t n = size_t(args.num("--connections", 10000)), batch = size_t(args.num("--batch", 500));
  int64_t deadline = bench::monoNs() + args.num("--timeout-s", 30) * 1'000'000'000;
  std::string req = "GET " + args.get("--path", "/") + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
  sockaddr_in sa = bench::parseAddr(target);
  SSL_CTX* tls = args.has("--tls") ? bench::makeClientCtx(std::string("\x08http/1.1"), false) : nullptr;

  std::vector<Conn> conns(n);
  long ok = 0, failed = 0;
  for (size_t from = 0; from < n; from += batch)
    openBatch(conns, from, std::min(n, from + batch), sa, req, deadline, tls, ok, failed);
  std::printf("ready %ld %ld\n", ok, failed);
  std::fflush(stdout);

  // Hold: wake when stdin closes (the harness is done measuring) or the hold time runs out.
  pollfd p{0, POLLIN, 0};
  int64_t holdEnd = bench::monoNs() + args.num("--hold-s", 60) * 1'000'000'000;
  char sink[256];
  while (bench::monoNs() < holdEnd) {
    if (poll(&p, 1, 200) > 0 && read(0, sink, sizeof sink) <= 0) break;
  }
  for (auto& c : conns)
    if (c.fd >= 0) close(c.fd);
  return 0;
}
