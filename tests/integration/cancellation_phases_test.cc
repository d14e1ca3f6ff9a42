// The real tether binary cancels upstream work when its client leaves, in every phase of an
// exchange, whether the client closes (FIN) or resets (RST), or an HTTP/2 client resets the stream
// (RST_STREAM): one request_cancelled line with phase, reason and status 499, the counter of that
// reason and phase, the upstream connection closed at once and never reused. The phase scenarios
// and the route deadline run for HTTP/1.1, h2c and h2 over TLS clients (protocol_matrix.h has the
// reason table); the upstream is HTTP/1.1 throughout. HTTP/1.1 only: back-pressure on a request
// body, pipelined backlogs, the deadline header, and what must NOT count as a cancellation
// (pipelining, an idle keep-alive connection closing, a plain request).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;
using Clock = std::chrono::steady_clock;

// The upstream must notice the client's departure within this, measured from the client's close. Generous, so a
// machine busy with other work does not fail it; the defect it catches (the upstream left working until its reply
// is done) takes kSlowWork, far longer.
constexpr auto kCloseBound = 5s;
// Upstream work a test expects tether to cancel: the upstream stops early when tether closes the connection.
constexpr auto kSlowWork = std::chrono::milliseconds(60s);

// Closes the client as `how` says and returns when it did. A FIN on a socket with unread response
// bytes would go out as an RST, so a client that is receiving shuts down its sending side instead.
Clock::time_point leave(RawClient& client, Leave how, bool receiving = false) {
  const auto now = Clock::now();
  if (how == Leave::kRst) {
    client.closeWithRst();
  } else if (receiving) {
    client.shutdownWrite();
  } else {
    client.close();
  }
  return now;
}

// Log lines other than the process's own: `startup` once it listens, `drain_started` and `shutdown` as it stops.
size_t requestLogLines(const TetherInstance& tether) {
  size_t n = 0;
  for (const auto& line : tether.logLines()) {
    const bool lifecycle = line.find("\"event\":\"startup\"") != std::string::npos ||
                           line.find("\"event\":\"drain_started\"") != std::string::npos ||
                           line.find("\"event\":\"shutdown\"") != std::string::npos;
    if (!lifecycle) ++n;
  }
  return n;
}

// The `n`-th upstream connection closes within kCloseBound of `left`.
void expectUpstreamClosedSoon(const TestUpstream& upstream, int n, Clock::time_point left) {
  ASSERT_TRUE(upstream.waitForConnectionClosed(n, 30s)) << "the upstream connection was not closed";
  const auto closed_at = upstream.lastCloseTime();
  ASSERT_TRUE(closed_at);
  EXPECT_GE(*closed_at, left) << "closed before the client left";
  EXPECT_LT(*closed_at - left, kCloseBound)
      << "upstream noticed after " << std::chrono::duration_cast<std::chrono::milliseconds>(*closed_at - left).count()
      << " ms";
}

// The fields every request_cancelled line of a client departure carries.
void expectCancelledLine(const JsonValue& line, const std::string& id, const std::string& phase,
                         const std::string& reason, int status) {
  EXPECT_EQ(line.str("event"), "request_cancelled");
  EXPECT_EQ(line.str("request_id"), id);
  EXPECT_EQ(line.str("phase"), phase);
  EXPECT_EQ(line.str("reason"), reason);
  EXPECT_EQ(line.integerAt("status"), status);
}

// Leaves as `how` says and returns when it did.
Clock::time_point leave(AnyClient& client, Leave how) {
  const auto now = Clock::now();
  client.leave(how);
  return now;
}

// The single request_cancelled line of a departure: its reason, phase and status, the protocol, the HTTP/2 error
// of a stream reset, and the counter of that reason and phase.
void expectDeparture(const TetherInstance& tether, const JsonValue& line, const MatrixCase& c, const std::string& id,
                     const std::string& phase) {
  EXPECT_EQ(line.str("event"), "request_cancelled");
  EXPECT_EQ(line.str("request_id"), id);
  EXPECT_EQ(line.str("phase"), phase);
  EXPECT_EQ(line.str("reason"), cancelReason(c.how));
  EXPECT_EQ(line.integerAt("status"), 499);
  EXPECT_EQ(line.str("protocol"), logProtocol(c.protocol));
  if (c.how == Leave::kStreamReset) {
    EXPECT_EQ(line.str("h2_error"), "CANCEL");
  }
  EXPECT_EQ(cancelledSample(tether, "all", cancelReason(c.how), phase), 1) << scrape(tether);
}

// A request after a cancellation: it gets a 200 over a NEW upstream connection (the cancelled one
// was not pooled), and its request_completed line is a barrier: every line the cancellation wrote
// on this (single) worker is in the log once it is. `protocol`: the client's, as the listener serves it.
void expectNextRequestUsesNewConnection(const TetherInstance& tether, const TestUpstream& upstream,
                                        const std::string& id, ClientProtocol protocol = ClientProtocol::kH1) {
  const int accepted_before = upstream.acceptedConnections();
  const size_t requests_before = upstream.requests().size();
  upstream.waitForConnectionClosed(accepted_before, 30s);
  AnyClient next(protocol);
  ASSERT_TRUE(next.connect(tether.port()));
  ASSERT_TRUE(next.request("GET", "/next", {{"X-Request-Id", id}}));
  const auto response = next.readResponse(30s);
  ASSERT_TRUE(response) << "tether did not answer after the cancellation";
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(upstream.acceptedConnections(), accepted_before + 1) << "a cancelled upstream connection was reused";
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), requests_before + 1);
  EXPECT_EQ(requests.back().connection, accepted_before + 1);
  EXPECT_EQ(tether.waitForLogEvents("request_completed", id, 1, 30s).size(), 1u) << tether.dumpLog();
}

// Exactly one request_cancelled line for `id`, and `total` request_cancelled lines in all.
JsonValue expectOneCancellation(const TetherInstance& tether, const std::string& id, size_t total = 1) {
  const auto lines = tether.logEvents("request_cancelled", id);
  EXPECT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), total) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("client_gone").empty()) << tether.dumpLog();
  return lines.empty() ? JsonValue{} : lines.front();
}

Reply delayed(std::chrono::milliseconds delay) {
  Reply reply;
  reply.delay = delay;
  reply.body = "slow";
  return reply;
}

// ---- reading_request: the upstream accepted and reads a body that never ends -------------------

class ReadingRequest : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(ReadingRequest, ClientLeaves_ClosesH1Upstream) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), c.protocol));
  const std::string id = std::string("reading-") + name(c.how);

  AnyClient client(c.protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.sendHead("POST", "/upload", {{"X-Request-Id", id}}, 1000, /*end=*/false, "0123456789"));
  ASSERT_TRUE(upstream.waitForReceivedEnding("\r\n\r\n0123456789", 30s))
      << "the head and the 10 body bytes did not reach the upstream while the body was arriving";
  ASSERT_EQ(upstream.acceptedConnections(), 1);
  const auto left = leave(client, c.how);

  expectUpstreamClosedSoon(upstream, 1, left);
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, 30s).size(), 1u) << tether.dumpLog();
  expectNextRequestUsesNewConnection(tether, upstream, id + "-next", c.protocol);
  const auto line = expectOneCancellation(tether, id);
  expectDeparture(tether, line, c, id, "reading_request");
  EXPECT_EQ(line.str("method"), "POST");
  EXPECT_EQ(line.integerAt("bytes_received"), 10);
  EXPECT_EQ(line.integerAt("bytes_sent"), 0);
  // The unfinished request never reached the upstream's handler.
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/next");
}

INSTANTIATE_TEST_SUITE_P(CancellationPhases, ReadingRequest, ::testing::ValuesIn(everyDeparture()), matrixCaseName);

// ---- connecting (queued): the only allowed connection is busy -----------------------------------

class QueuedForConnection : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(QueuedForConnection, ClientLeaves_NeverReachesH1Upstream) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return request.target == "/busy" ? delayed(kSlowWork) : delayed(0ms); });
  TetherInstance tether(
      forClient(TetherOptions::proxyTo({upstream.address()}, {{"max_connections_per_endpoint", "1"}}), c.protocol));
  const std::string suffix = name(c.how);
  const std::string busy_id = "busy-" + suffix;
  const std::string id = "queued-" + suffix;

  AnyClient busy(c.protocol);
  ASSERT_TRUE(busy.connect(tether.port()));
  ASSERT_TRUE(busy.request("GET", "/busy", {{"X-Request-Id", busy_id}}));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));

  AnyClient queued(c.protocol);
  ASSERT_TRUE(queued.connect(tether.port()));
  ASSERT_TRUE(queued.request("GET", "/queued", {{"X-Request-Id", id}}));
  // Both exchanges exist: /queued is parsed and waits for the only connection, which /busy holds.
  ASSERT_EQ(waitForSample(tether, "tether_active_requests", 2), 2);
  leave(queued, c.how);

  const auto lines = tether.waitForLogEvents("request_cancelled", id, 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  expectDeparture(tether, lines[0], c, id, "queued");
  ASSERT_TRUE(lines[0].find("endpoint"));
  EXPECT_TRUE(lines[0].find("endpoint")->isNull());
  ASSERT_TRUE(lines[0].find("upstream_elapsed_ms"));
  EXPECT_TRUE(lines[0].find("upstream_elapsed_ms")->isNull());
  // Dropping the queued request left the busy one alone.
  EXPECT_EQ(upstream.closedConnections(), 0);
  EXPECT_EQ(upstream.acceptedConnections(), 1);

  // The busy client leaves too: its connection closes, and the queued request must not take it.
  const auto left = leave(busy, c.how);
  expectUpstreamClosedSoon(upstream, 1, left);
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", busy_id, 1, 30s).size(), 1u) << tether.dumpLog();
  expectNextRequestUsesNewConnection(tether, upstream, id + "-next", c.protocol);
  expectOneCancellation(tether, id, 2);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/busy");
  EXPECT_EQ(requests[1].target, "/next") << "the cancelled queued request reached the upstream";
}

INSTANTIATE_TEST_SUITE_P(CancellationPhases, QueuedForConnection, ::testing::ValuesIn(everyDeparture()),
                         matrixCaseName);

// ---- connecting (connect in progress): the upstream's accept queue is full, the SYN is dropped ---

int countSynSentTo(uint16_t port) {
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) continue;
    char line[512];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      unsigned remote_port = 0, state = 0;
      char local[128], remote[128];
      if (std::sscanf(line, "%*d: %127s %127s %x", local, remote, &state) != 3) continue;
      const char* colon = std::strrchr(remote, ':');
      if (colon == nullptr || std::sscanf(colon + 1, "%x", &remote_port) != 1) continue;
      if (state == 0x02 && remote_port == port) ++count;  // TCP_SYN_SENT
    }
    std::fclose(f);
  }
  return count;
}

class ConnectInProgress : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(ConnectInProgress, ClientLeaves_AbandonsH1UpstreamConnect) {
  const MatrixCase c = GetParam();
  // A listener that never accepts, with a backlog of 0: once one connection waits in its accept
  // queue, further SYNs are dropped and tether's connect hangs.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    const int fd = connectLoopback(port, deadlineAfter(300ms));
    if (fd >= 0) fillers.push_back(fd);
  }
  ASSERT_FALSE(fillers.empty());
  ASSERT_LT(fillers.size(), 3u) << "the accept queue never filled up";

  const std::string id = std::string("connect-") + name(c.how);
  {
    TetherInstance tether(forClient(
        TetherOptions::proxyTo({"127.0.0.1:" + std::to_string(port)}, {{"connect_timeout", "10s"}}), c.protocol));
    AnyClient client(c.protocol);
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.request("GET", "/hang", {{"X-Request-Id", id}}));
    const Deadline syn = deadlineAfter(30s);
    while (countSynSentTo(port) < 1 && Clock::now() < syn) std::this_thread::sleep_for(10ms);  // poll interval
    ASSERT_GE(countSynSentTo(port), 1) << "tether's connect did not hang";
    leave(client, c.how);

    const auto lines = tether.waitForLogEvents("request_cancelled", id, 1, 30s);
    ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
    expectDeparture(tether, lines[0], c, id, "connecting");
    ASSERT_TRUE(lines[0].find("endpoint"));
    EXPECT_TRUE(lines[0].find("endpoint")->isNull());
    ASSERT_TRUE(lines[0].find("upstream_elapsed_ms"));
    EXPECT_TRUE(lines[0].find("upstream_elapsed_ms")->isNull());
    // The half-open connect is abandoned, not left to time out.
    const Deadline gone = deadlineAfter(kCloseBound);
    while (countSynSentTo(port) > 0 && Clock::now() < gone) std::this_thread::sleep_for(10ms);  // poll interval
    EXPECT_EQ(countSynSentTo(port), 0) << "tether kept connecting for a client that left";
    // A client still connected after its stream reset would hold tether's drain for the PING wait; its
    // connection closing now must not log the cancelled request again.
    if (c.how == Leave::kStreamReset) client.leave(Leave::kRst);
    EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
    EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  }
  for (const int fd : fillers) ::close(fd);
  ::close(listener);
}

INSTANTIATE_TEST_SUITE_P(CancellationPhases, ConnectInProgress, ::testing::ValuesIn(everyDeparture()), matrixCaseName);

// ---- reading_request under back-pressure: tether stopped reading the client ---------------------

// CPU time (user + system) a process has used, from /proc/<pid>/stat.
std::chrono::milliseconds cpuTime(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return std::chrono::milliseconds(0);
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces
  unsigned long utime = 0, stime = 0;
  if (p == nullptr || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::milliseconds((utime + stime) * 1000 / static_cast<unsigned long>(sysconf(_SC_CLK_TCK)));
}

// The upstream accepts but never reads: its buffers fill, tether pauses reading the client's body
// (bounded memory), and then the client resets. Nothing is being read from the client socket at
// that moment, yet the reset must still cancel the upload.
TEST(CancellationPhases, H1ClientRstWhileRequestBodyBackpressured_ClosesH1Upstream) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  int upstream_fd = -1;
  {
    TetherInstance tether(TetherOptions::proxyTo({"127.0.0.1:" + std::to_string(port)}));
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(
        client.send("POST /upload HTTP/1.1\r\nHost: test\r\nX-Request-Id: paused-rst\r\n"
                    "Content-Length: 1073741824\r\n\r\n"));
    pollfd pfd{listener, POLLIN, 0};
    ASSERT_EQ(poll(&pfd, 1, 30000), 1) << "tether did not connect upstream";
    upstream_fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(upstream_fd, 0);

    // Push body until every buffer on the way is full and the client's writes stall.
    const std::string chunk(64 * 1024, 'b');
    uint64_t pushed = 0;
    while (pushed < (256ull << 20) && client.send(chunk, 300ms)) pushed += chunk.size();
    ASSERT_LT(pushed, 256ull << 20) << "tether never applied back-pressure";

    const auto cpu_before = cpuTime(tether.pid());
    const auto left = Clock::now();
    client.closeWithRst();

    pollfd up{upstream_fd, POLLRDHUP, 0};
    const int ready = poll(&up, 1, 30000);
    const auto noticed = Clock::now();
    EXPECT_EQ(ready, 1) << "the upstream connection stayed open after the client reset";
    if (ready == 1) {
      EXPECT_LT(noticed - left, kCloseBound);
    }
    const auto lines = tether.waitForLogEvents("request_cancelled", "paused-rst", 1, 30s);
    ASSERT_EQ(lines.size(), 1u) << "the reset of a back-pressured client went unnoticed\n" << tether.dumpLog();
    expectCancelledLine(lines[0], "paused-rst", "reading_request", "client_reset", 499);
    // Noticing must not cost a spinning event loop either. A sleep on purpose: the claim is an absence (no CPU
    // burnt over a while), measured over this window.
    std::this_thread::sleep_for(500ms);
    EXPECT_LT(cpuTime(tether.pid()) - cpu_before, 300ms) << "tether burns CPU after the client reset";
  }
  if (upstream_fd >= 0) ::close(upstream_fd);
  ::close(listener);
}

// ---- awaiting_response with a full input buffer of pipelined bytes ------------------------------

// Bytes waiting unread in the receive queue of the socket 127.0.0.1:<local_port> <-> :<remote_port>
// (/proc/net/tcp rx_queue), -1 if there is no such socket.
long receiveQueue(uint16_t local_port, uint16_t remote_port) {
  FILE* f = std::fopen("/proc/net/tcp", "r");
  if (f == nullptr) return -1;
  char line[512];
  long found = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned local = 0, remote = 0, state = 0;
    unsigned long tx = 0, rx = 0;
    if (std::sscanf(line, "%*d: %*8x:%x %*8x:%x %x %lx:%lx", &local, &remote, &state, &tx, &rx) == 5 &&
        local == local_port && remote == remote_port) {
      found = static_cast<long>(rx);
    }
  }
  std::fclose(f);
  return found;
}

uint16_t localPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

// Bytes the client has written that its kernel has not yet handed to the peer (SIOCOUTQ).
int unsentBytes(int fd) {
  int n = -1;
  return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

// The client pipelines more than tether buffers (64 KiB) behind a slow request, so tether has stopped
// reading its socket; the departure must still be seen. The backlog is small enough to fit in
// tether's socket receive buffer: a FIN queued behind bytes the peer has no window for could not be
// seen by anyone (the RST, which needs no window, is then the only signal).
// `second_on_connection`: the watched request is not the connection's first, so the watch must survive the end of
// an earlier exchange on the same keep-alive connection.
void runPipelinedBacklog(Leave how, bool second_on_connection = false) {
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return request.target == "/slow" ? delayed(kSlowWork) : delayed(0ms); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const std::string id =
      std::string(second_on_connection ? "second-" : "") + "backlog-" + (how == Leave::kFin ? "fin" : "rst");

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  if (second_on_connection) {
    ASSERT_TRUE(client.send(getRequest("/first")));
    auto first = client.readResponse(30s);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->status, 200);
  }
  std::string backlog;
  while (backlog.size() < 96 * 1024)
    backlog += getRequest("/queued-behind", "X-Pad: " + std::string(1000, 'p') + "\r\n");
  ASSERT_TRUE(client.send(getRequest("/slow", "X-Request-Id: " + id + "\r\n") + backlog));
  ASSERT_TRUE(upstream.waitForRequests(second_on_connection ? 2 : 1, 30s));
  const Deadline flushed = deadlineAfter(30s);
  while (unsentBytes(client.fd()) != 0 && Clock::now() < flushed) std::this_thread::sleep_for(5ms);  // poll interval
  ASSERT_EQ(unsentBytes(client.fd()), 0) << "the backlog did not fit into tether's receive buffer";
  // A sleep on purpose: the claim is an absence (tether does not read the whole backlog), given time to happen.
  std::this_thread::sleep_for(100ms);
  EXPECT_GT(receiveQueue(tether.port(), localPort(client.fd())), 0) << "tether was still reading the client";
  const auto left = leave(client, how);

  expectUpstreamClosedSoon(upstream, 1, left);
  const auto lines = tether.waitForLogEvents("request_cancelled", id, 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  expectCancelledLine(lines[0], id, "awaiting_response", cancelReason(how), 499);
  // Nothing of the backlog was forwarded: the connection ended with the cancelled request. Once tether has
  // exited and the upstream has seen every connection close, whatever was forwarded has been recorded.
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 30s));
  EXPECT_EQ(upstream.requests().size(), second_on_connection ? 2u : 1u);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
}

TEST(CancellationPhases, H1ClientFinBehindPipelinedBacklog_ClosesH1Upstream) { runPipelinedBacklog(Leave::kFin); }
TEST(CancellationPhases, H1ClientRstBehindPipelinedBacklog_ClosesH1Upstream) { runPipelinedBacklog(Leave::kRst); }
TEST(CancellationPhases, H1ClientRstBehindPipelinedBacklogOnSecondRequest_ClosesH1Upstream) {
  runPipelinedBacklog(Leave::kRst, true);
}

// ---- awaiting_response: the upstream works 5 s on a GET ----------------------------------------

class AwaitingResponse : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(AwaitingResponse, ClientLeaves_ClosesH1Upstream) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return request.target == "/slow" ? delayed(kSlowWork) : delayed(0ms); });
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), c.protocol));
  const std::string id = std::string("awaiting-") + name(c.how);

  AnyClient client(c.protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/slow", {{"X-Request-Id", id}}));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  std::this_thread::sleep_for(50ms);  // not a wait for an event: upstream time for upstream_elapsed_ms to show
  const auto left = leave(client, c.how);

  expectUpstreamClosedSoon(upstream, 1, left);
  EXPECT_EQ(upstream.requestsServed(), 0);
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, 30s).size(), 1u) << tether.dumpLog();
  expectNextRequestUsesNewConnection(tether, upstream, id + "-next", c.protocol);
  const auto line = expectOneCancellation(tether, id);
  expectDeparture(tether, line, c, id, "awaiting_response");
  EXPECT_EQ(line.str("endpoint"), upstream.address());
  ASSERT_TRUE(line.integerAt("upstream_elapsed_ms"));
  EXPECT_GE(*line.integerAt("upstream_elapsed_ms"), 40);
  EXPECT_EQ(line.integerAt("bytes_sent"), 0);
}

INSTANTIATE_TEST_SUITE_P(CancellationPhases, AwaitingResponse, ::testing::ValuesIn(everyDeparture()), matrixCaseName);

// ---- streaming_response: 50 MiB trickling at ~1.6 MB/s -------------------------------------------

class StreamingResponse : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(StreamingResponse, ClientLeaves_ClosesH1Upstream) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    if (request.target == "/stream") {
      reply.stream_bytes = 50ull << 20;
      reply.stream_interval = 10ms;
    } else {
      reply.body = "ok";
    }
    return reply;
  });
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), c.protocol));
  const std::string id = std::string("streaming-") + name(c.how);

  AnyClient client(c.protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/stream", {{"X-Request-Id", id}}));
  ASSERT_TRUE(client.readResponseStart(32 * 1024, 60s))
      << "the body did not start flowing: status " << client.response().status << ", " << client.response().body_bytes
      << " body bytes";
  ASSERT_EQ(client.response().status, 200);
  const auto left = leave(client, c.how);

  expectUpstreamClosedSoon(upstream, 1, left);
  EXPECT_EQ(upstream.requestsServed(), 0);
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, 30s).size(), 1u) << tether.dumpLog();
  expectNextRequestUsesNewConnection(tether, upstream, id + "-next", c.protocol);
  const auto line = expectOneCancellation(tether, id);
  expectDeparture(tether, line, c, id, "streaming_response");
  ASSERT_TRUE(line.integerAt("bytes_sent"));
  EXPECT_GE(*line.integerAt("bytes_sent"), 32 * 1024);
  EXPECT_LT(*line.integerAt("bytes_sent"), 50ll << 20);
}

INSTANTIATE_TEST_SUITE_P(CancellationPhases, StreamingResponse, ::testing::ValuesIn(everyDeparture()), matrixCaseName);

// ---- route deadline --------------------------------------------------------------------------

class RouteTimeout : public ::testing::TestWithParam<ClientProtocol> {};

TEST_P(RouteTimeout, Returns504AndClosesH1Upstream) {
  const ClientProtocol protocol = GetParam();
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return request.target == "/slow" ? delayed(kSlowWork) : delayed(0ms); });
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("timed", "{path_prefix: /}", "backend", {{"timeout", "300ms"}});
  TetherInstance tether(forClient(options, protocol));

  AnyClient client(protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  const auto sent = Clock::now();
  ASSERT_TRUE(client.request("GET", "/slow", {{"X-Request-Id", "deadline-1"}}));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  const auto answered = Clock::now();
  EXPECT_EQ(response->status, 504);
  EXPECT_GE(answered - sent, 280ms);
  EXPECT_LT(answered - sent, 300ms + kCloseBound);
  ASSERT_FALSE(response->body.empty());
  EXPECT_EQ(response->body.front(), '{') << response->body;
  EXPECT_NE(response->body.find("\"deadline-1\""), std::string::npos) << response->body;
  ASSERT_TRUE(response->header("Content-Type"));
  EXPECT_NE(response->header("Content-Type")->find("json"), std::string::npos);
  const auto body = parseJson(response->body);
  ASSERT_TRUE(body) << "504 body is not JSON: " << response->body;
  EXPECT_EQ(body->str("error"), "gateway_timeout");
  EXPECT_EQ(body->integerAt("status"), 504);
  EXPECT_EQ(body->str("message"), "route timeout exceeded");
  EXPECT_EQ(body->str("request_id"), "deadline-1");

  // The upstream learns within the bound of the deadline (sent + 300 ms).
  ASSERT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  ASSERT_TRUE(upstream.lastCloseTime());
  EXPECT_LT(*upstream.lastCloseTime() - (sent + 300ms), kCloseBound);
  EXPECT_GE(*upstream.lastCloseTime() - sent, 280ms);
  EXPECT_EQ(upstream.requestsServed(), 0);

  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", "deadline-1", 1, 30s).size(), 1u) << tether.dumpLog();
  expectNextRequestUsesNewConnection(tether, upstream, "deadline-1-next", protocol);
  const auto line = expectOneCancellation(tether, "deadline-1");
  expectCancelledLine(line, "deadline-1", "awaiting_response", "deadline_exceeded", 504);
  EXPECT_EQ(line.str("protocol"), logProtocol(protocol));
  EXPECT_EQ(cancelledSample(tether, "timed", "deadline_exceeded", "awaiting_response"), 1) << scrape(tether);
  EXPECT_TRUE(tether.logEvents("request_completed", "deadline-1").empty()) << tether.dumpLog();
}

INSTANTIATE_TEST_SUITE_P(CancellationDeadline, RouteTimeout, ::testing::ValuesIn(matrixProtocols()), protocolName);

// The route timeout of the deadline header test: long, so the time a busy machine takes to forward a request
// is small beside it.
constexpr int64_t kDeadlineBudgetMs = 60000;

// "X-Request-Timeout-Ms: <remaining ms>" exactly once, an integer in [0, kDeadlineBudgetMs].
int64_t deadlineHeaderValue(const RecordedRequest& request) {
  int count = 0;
  std::string value;
  for (const auto& [name, v] : request.headers) {
    if (equalsIgnoreCase(name, "X-Request-Timeout-Ms")) {
      ++count;
      value = v;
    }
  }
  EXPECT_EQ(count, 1) << "deadline header missing or repeated";
  EXPECT_FALSE(value.empty());
  EXPECT_EQ(value.find_first_not_of("0123456789"), std::string::npos) << "not an integer: " << value;
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) return -1;
  const int64_t ms = std::stoll(value);  // digits only: never negative
  EXPECT_LE(ms, kDeadlineBudgetMs);
  return ms;
}

TEST(CancellationDeadline, H1ClientDeadlineHeader_H1UpstreamSeesRemainingBudget) {
  // /hold answers once the test releases it, after /queued has waited at least kQueuedFor behind it.
  constexpr auto kQueuedFor = 1000ms;
  std::promise<void> release_hold;
  std::shared_future<void> hold_released = release_hold.get_future().share();
  TestUpstream upstream;
  upstream.setHandler([hold_released](const RecordedRequest& request) {
    if (request.target == "/hold") hold_released.wait_for(60s);  // bounded for a failing test
    return delayed(0ms);
  });
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()}, {{"max_connections_per_endpoint", "1"}})
      .addRoute("timed", "{path_prefix: /}", "backend",
                {{"timeout", std::to_string(kDeadlineBudgetMs) + "ms"}, {"deadline_header", "X-Request-Timeout-Ms"}});
  TetherInstance tether(options);

  // Straight through: nearly the whole budget is left.
  RawClient first;
  ASSERT_TRUE(first.connect(tether.port()));
  // A client's own header of that name never reaches the upstream: only tether's value does.
  ASSERT_TRUE(first.send(getRequest("/direct", "X-Request-Timeout-Ms: 999999\r\n")));
  const auto direct = first.readResponse(30s);
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->status, 200);
  ASSERT_EQ(upstream.requests().size(), 1u);
  const int64_t direct_ms = deadlineHeaderValue(upstream.requests()[0]);
  EXPECT_GE(direct_ms, kDeadlineBudgetMs - 5000) << "the whole budget was not sent for an immediate request";

  // Queued at least 1 s behind /hold (one connection allowed): the header carries what is left, not the budget.
  RawClient hold;
  ASSERT_TRUE(hold.connect(tether.port()));
  ASSERT_TRUE(hold.send(getRequest("/hold")));
  ASSERT_TRUE(upstream.waitForRequests(2, 30s));
  RawClient queued;
  ASSERT_TRUE(queued.connect(tether.port()));
  ASSERT_TRUE(queued.send(getRequest("/queued")));
  // /queued is parsed and waits for the connection; then it waits kQueuedFor more (a duration the test
  // creates, not a wait for an event), so its remaining budget is at least that much smaller.
  const bool queued_waiting = waitForSample(tether, "tether_active_requests", 2) == 2;
  std::this_thread::sleep_for(kQueuedFor);
  release_hold.set_value();
  ASSERT_TRUE(queued_waiting);
  ASSERT_TRUE(hold.readResponse(30s));
  const auto response = queued.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].target, "/queued");
  // /hold went out on /direct's idle keep-alive connection, whose head is written without a pending copy.
  EXPECT_EQ(requests[1].target, "/hold");
  EXPECT_GE(deadlineHeaderValue(requests[1]), kDeadlineBudgetMs - 5000);
  const int64_t queued_ms = deadlineHeaderValue(requests[2]);
  EXPECT_LE(queued_ms, kDeadlineBudgetMs - 900) << "the time spent waiting for a connection was not subtracted";
  EXPECT_GE(queued_ms, kDeadlineBudgetMs / 2);
}

// ---- what is not a cancellation ----------------------------------------------------------------

TEST(CancellationNone, H1ClientPipelinedRequests_BothCompleteNoCancellation) {
  // pipe-3 is answered only once the test has sent pipe-4 while pipe-3 is in flight (an event, not a delay).
  std::promise<void> release_pipe3;
  std::shared_future<void> pipe3_released = release_pipe3.get_future().share();
  TestUpstream upstream;
  upstream.setHandler([pipe3_released](const RecordedRequest& request) {
    Reply reply = delayed(request.target == "/first" ? 500ms : 0ms);
    if (request.header("X-Request-Id") == "pipe-3") pipe3_released.wait_for(60s);  // bounded for a failing test
    reply.body = request.target;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/first", "X-Request-Id: pipe-1\r\n") +
                          getRequest("/second", "X-Request-Id: pipe-2\r\n")));
  const auto first = client.readResponse(30s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "/first");
  const auto second = client.readResponse(30s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "/second");

  EXPECT_EQ(tether.waitForLogEvents("request_completed", "pipe-2", 1, 30s).size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("request_completed", "pipe-1").size(), 1u) << tether.dumpLog();

  // Bytes that arrive while a request is in flight are the next request, not a departure.
  ASSERT_TRUE(client.send(getRequest("/first", "X-Request-Id: pipe-3\r\n")));
  ASSERT_TRUE(upstream.waitForRequests(3, 30s));
  ASSERT_TRUE(client.send(getRequest("/second", "X-Request-Id: pipe-4\r\n")));
  const Deadline delivered = deadlineAfter(30s);
  while (unsentBytes(client.fd()) != 0 && Clock::now() < delivered) std::this_thread::sleep_for(5ms);  // poll
  release_pipe3.set_value();
  const auto third = client.readResponse(30s);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->body, "/first");
  const auto fourth = client.readResponse(30s);
  ASSERT_TRUE(fourth);
  EXPECT_EQ(fourth->body, "/second");
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "pipe-4", 1, 30s).size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("request_completed").size(), 4u) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("client_gone").empty()) << tether.dumpLog();
  EXPECT_EQ(upstream.closedConnections(), 0);
}

TEST(CancellationNone, H1ClientClosesIdleKeepAlive_LogsOnlyCompletion) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  for (const Leave how : {Leave::kFin, Leave::kRst}) {
    const std::string id = how == Leave::kFin ? "idle-fin" : "idle-rst";
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.send(getRequest("/x", "X-Request-Id: " + id + "\r\n")));
    const auto response = client.readResponse(30s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    ASSERT_EQ(tether.waitForLogEvents("request_completed", id, 1, 30s).size(), 1u);
    leave(client, how);  // idle between requests: nothing is in flight
  }
  RawClient barrier;
  ASSERT_TRUE(barrier.connect(tether.port()));
  ASSERT_TRUE(barrier.send(getRequest("/x", "X-Request-Id: idle-barrier\r\n")));
  ASSERT_TRUE(barrier.readResponse(30s));
  ASSERT_EQ(tether.waitForLogEvents("request_completed", "idle-barrier", 1, 30s).size(), 1u);
  // The pooled upstream connection was reused throughout: a client leaving idle touches nothing.
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_EQ(upstream.closedConnections(), 0);

  EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
  EXPECT_EQ(requestLogLines(tether), 3u) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("request_completed").size(), 3u) << tether.dumpLog();
}

TEST(CancellationNone, H1ClientNormalRequest_LogsCompletedOnly) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return delayed(100ms); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/plain", "X-Request-Id: plain-1\r\nConnection: close\r\n")));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(client.waitClosed(2s));
  client.close();

  const auto completed = tether.waitForLogEvents("request_completed", "plain-1", 1, 30s);
  ASSERT_EQ(completed.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(completed[0].integerAt("status"), 200);
  EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
  EXPECT_EQ(requestLogLines(tether), 1u) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty());
  EXPECT_EQ(upstream.requestsServed(), 1);
}

}  // namespace
}  // namespace tether::testing
