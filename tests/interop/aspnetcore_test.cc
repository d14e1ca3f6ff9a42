// The seeds' ASP.NET Core minimal API (examples/aspnetcore) behind the real tether binary, HTTP/1.1 upstream. For
// each way a client leaves (curl's --max-time, a TCP reset, an HTTP/2 RST_STREAM over h2c and over TLS, curl --http2
// over TLS) the proof is on both sides, for the same request id: the app's own log says RequestAborted fired and
// OperationCanceledMiddleware wrote "Request was cancelled", and tether wrote exactly one request_cancelled line
// with the departure's phase, reason and protocol. The delay between tether's line and the app's is measured and
// printed (`[ measured ]`); the bound asserted (5 s) only guards against "never". Also: the token passed on to
// HttpClient cancels the downstream call; a completed request fires nothing; the deadline header lets the handler
// stop by itself before tether's deadline; and what Kestrel notices with no tether in front (a half-close).
//
// ctest runs every test in its own process, so each starts one app (about 1 s of dotnet start-up); run directly,
// the binary starts one for the whole suite.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aspnetcore_app.h"
#include "output_lines.h"
#include "support/any_client.h"
#include "support/process.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kBound = 30s;  // only a failing test waits this long
// The guard on the delay between tether's request_cancelled line and the app's: measured in tens of milliseconds
// (README), asserted only against "never".
constexpr int64_t kDelayGuardMs = 5000;
// The suite's app gives up this long before tether's deadline (its default is 500 ms): slack for a busy machine.
constexpr int kDeadlineMarginMs = 1000;
constexpr std::string_view kDeadlineTimeout = "3s";

class AspNetCore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (AspNetCoreApp::missing().empty()) {
      app_ = std::make_unique<AspNetCoreApp>(
          std::vector<std::string>{"--deadline-margin-ms", std::to_string(kDeadlineMarginMs)});
    }
  }
  static void TearDownTestSuite() { app_.reset(); }

  void SetUp() override { TETHER_REQUIRE_RUNTIME(AspNetCoreApp::missing()); }

  // tether in front of the app: /deadline with a 3 s timeout and the deadline header, everything else plain.
  // `first` routes go before those (a route of the test's own).
  static TetherOptions options(ClientProtocol client, std::vector<TetherOptions::Route> first = {}) {
    TetherOptions options;
    options.addUpstream("kestrel", {app_->endpoint()});
    for (TetherOptions::Route& route : first) {
      options.addRoute(route.name, route.match, "kestrel", route.settings);
    }
    options.addRoute("deadline", "{path: /deadline}", "kestrel",
                     {{"timeout", std::string(kDeadlineTimeout)}, {"deadline_header", "X-Request-Timeout-Ms"}});
    options.addRoute("api", "{path_prefix: /}", "kestrel");
    return forClient(options, client);
  }

  static std::unique_ptr<AspNetCoreApp> app_;
};
std::unique_ptr<AspNetCoreApp> AspNetCore::app_;

// An AnyClient request with its X-Request-Id; returns once the app logged that the handler started.
void startSlowRequest(AnyClient& client, const TetherInstance& tether, const AspNetCoreApp& app, const std::string& id,
                      std::string_view path = "/slowtest") {
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", path, {{"x-request-id", id}}));
  ASSERT_TRUE(app.waitForLine("Starting to do slow work", id)) << app.output() << tether.dumpLog();
}

// The signed delay from tether's line to the app's, in ms.
std::optional<int64_t> delayMs(const JsonValue& tether_event, const std::string& app_line) {
  const std::optional<int64_t> tether_ms = isoMillis(tether_event.str("ts").value_or(""));
  const std::optional<int64_t> app_ms = isoMillis(app_line);
  if (!tether_ms || !app_ms) return std::nullopt;
  return *app_ms - *tether_ms;
}

// "+12 ms", "-1 ms".
std::string signedMs(int64_t ms) { return (ms < 0 ? "" : "+") + std::to_string(ms) + " ms"; }

// After the client left: the app's token fired and its middleware logged "Request was cancelled" for `id` (once
// each), and tether wrote one request_cancelled line for it with this reason, protocol and phase. Stops tether.
void expectCancelledOnBothSides(TetherInstance& tether, const AspNetCoreApp& app, const std::string& id,
                                std::string_view reason, std::string_view protocol,
                                std::string_view phase = "awaiting_response") {
  const std::optional<std::string> fired = app.waitForLine("RequestAborted fired", id);
  ASSERT_TRUE(fired) << app.output() << tether.dumpLog();
  const std::optional<std::string> cancelled = app.waitForLine("Request was cancelled", id);
  ASSERT_TRUE(cancelled) << app.output();
  std::vector<JsonValue> events = tether.waitForLogEvents("request_cancelled", id, 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();

  const std::optional<int64_t> to_fired = delayMs(events[0], *fired);
  const std::optional<int64_t> to_cancelled = delayMs(events[0], *cancelled);
  ASSERT_TRUE(to_fired && to_cancelled) << *fired << "\n" << *cancelled << "\n" << tether.dumpLog();
  std::cout << "[ measured ] " << id << ": tether request_cancelled " << events[0].str("ts").value_or("")
            << ", app RequestAborted " << signedMs(*to_fired) << ", \"Request was cancelled\" "
            << signedMs(*to_cancelled) << "\n";
  ::testing::Test::RecordProperty("request_aborted_after_ms", std::to_string(*to_fired));
  ::testing::Test::RecordProperty("request_was_cancelled_after_ms", std::to_string(*to_cancelled));
  EXPECT_LT(std::abs(*to_fired), kDelayGuardMs);
  EXPECT_LT(std::abs(*to_cancelled), kDelayGuardMs);

  EXPECT_EQ(tether.stop(), 0);  // every line written
  events = tether.logEvents("request_cancelled", id);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), phase);
  EXPECT_EQ(events[0].str("reason"), reason);
  EXPECT_EQ(events[0].str("protocol"), protocol);
  EXPECT_EQ(events[0].str("upstream_protocol"), "http1");
  EXPECT_EQ(events[0].str("upstream_reset"), "rst");  // cancel_with's default for an HTTP/1.1 upstream
  EXPECT_EQ(app.lines("RequestAborted fired", id).size(), 1u) << app.output();
  EXPECT_EQ(app.lines("Request was cancelled", id).size(), 1u) << app.output();
}

// curl gives up after --max-time and closes its connection: a FIN (over TLS, after close_notify).
std::unique_ptr<Process> curlGivingUp(const std::string& url, const std::string& id, std::vector<std::string> flags) {
  std::vector<std::string> argv{TETHER_CURL, "-sS", "-o", "/dev/null", "--max-time", "3", "-H", "X-Request-Id: " + id};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(url);
  return std::make_unique<Process>(argv);
}
constexpr int kCurlTimedOut = 28;

TEST_F(AspNetCore, CurlMaxTimeCancelsTheSlowtestToken) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "curl-fin-1";
  auto curl = curlGivingUp("http://127.0.0.1:" + std::to_string(tether.port()) + "/slowtest", id, {});
  ASSERT_TRUE(app_->waitForLine("Starting to do slow work", id)) << app_->output() << curl->output();
  EXPECT_EQ(curl->waitExit(), kCurlTimedOut) << curl->output();
  expectCancelledOnBothSides(tether, *app_, id, "client_closed", "http/1.1");
}

// The value of `key=` among a log line's space-separated fields.
std::string fieldValue(const std::string& line, const std::string& key) {
  for (const std::string& f : fields(line)) {
    if (f.rfind(key + "=", 0) == 0) return f.substr(key.size() + 1);
  }
  return {};
}

// A W3C traceparent reaches Kestrel unchanged: the request's Activity continues it (the app logs its TraceId and
// ParentSpanId), and tether's request_cancelled line carries the same trace_id and parent_span_id, so the
// cancellation is found next to the app's own trace.
TEST_F(AspNetCore, TheCancellationLineCarriesTheAppsTraceId) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "curl-trace-1";
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string parent = "00f067aa0ba902b7";
  auto curl = curlGivingUp("http://127.0.0.1:" + std::to_string(tether.port()) + "/slowtest", id,
                           {"-H", "traceparent: 00-" + trace_id + "-" + parent + "-01"});
  const auto started = app_->waitForLine("Starting to do slow work", id);
  ASSERT_TRUE(started) << app_->output() << curl->output();
  EXPECT_EQ(fieldValue(*started, "trace_id"), trace_id) << *started;
  EXPECT_EQ(fieldValue(*started, "parent_span_id"), parent) << *started;
  EXPECT_EQ(curl->waitExit(), kCurlTimedOut) << curl->output();
  expectCancelledOnBothSides(tether, *app_, id, "client_closed", "http/1.1");
  const auto events = tether.logEvents("request_cancelled", id);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("trace_id"), trace_id);
  EXPECT_EQ(events[0].str("parent_span_id"), parent);
}

TEST_F(AspNetCore, TcpResetCancelsTheSlowtestToken) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "tcp-rst-1";
  AnyClient client(ClientProtocol::kH1);
  startSlowRequest(client, tether, *app_, id);
  client.leave(Leave::kRst);  // SO_LINGER 0, close
  expectCancelledOnBothSides(tether, *app_, id, "client_reset", "http/1.1");
}

TEST_F(AspNetCore, H2cStreamResetCancelsTheSlowtestToken) {
  TetherInstance tether(options(ClientProtocol::kH2c));
  const std::string id = "h2c-rst-stream-1";
  AnyClient client(ClientProtocol::kH2c);
  startSlowRequest(client, tether, *app_, id);
  client.leave(Leave::kStreamReset);  // RST_STREAM(CANCEL); the connection stays open
  expectCancelledOnBothSides(tether, *app_, id, "stream_reset", "h2c");
}

TEST_F(AspNetCore, H2TlsStreamResetCancelsTheSlowtestToken) {
  TetherInstance tether(options(ClientProtocol::kH2Tls));
  const std::string id = "h2-tls-rst-stream-1";
  AnyClient client(ClientProtocol::kH2Tls);
  startSlowRequest(client, tether, *app_, id);
  client.leave(Leave::kStreamReset);
  expectCancelledOnBothSides(tether, *app_, id, "stream_reset", "h2");
}

TEST_F(AspNetCore, CurlHttp2OverTlsMaxTimeCancelsTheSlowtestToken) {
  TetherInstance tether(options(ClientProtocol::kH2Tls));
  const std::string id = "curl-h2-tls-1";
  auto curl = curlGivingUp("https://127.0.0.1:" + std::to_string(tether.port()) + "/slowtest", id, {"--http2", "-k"});
  ASSERT_TRUE(app_->waitForLine("Starting to do slow work", id)) << app_->output() << curl->output();
  EXPECT_EQ(curl->waitExit(), kCurlTimedOut) << curl->output();
  // Over TLS, curl's exit at --max-time reaches tether as a reset (client_reset in 5 of 5 runs here, curl 7.88: it
  // writes one last record and closes at once); a FIN alone would be client_closed. Either is the client leaving.
  const std::vector<JsonValue> events = tether.waitForLogEvents("request_cancelled", id, 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  const std::string reason = events[0].str("reason").value_or("");
  EXPECT_TRUE(reason == "client_reset" || reason == "client_closed") << reason;
  expectCancelledOnBothSides(tether, *app_, id, reason, "h2");
}

TEST_F(AspNetCore, CurlH2cPriorKnowledgeMaxTimeCancelsTheSlowtestToken) {
  TetherInstance tether(options(ClientProtocol::kH2c));
  const std::string id = "curl-h2c-1";
  auto curl =
      curlGivingUp("http://127.0.0.1:" + std::to_string(tether.port()) + "/slowtest", id, {"--http2-prior-knowledge"});
  ASSERT_TRUE(app_->waitForLine("Starting to do slow work", id)) << app_->output() << curl->output();
  EXPECT_EQ(curl->waitExit(), kCurlTimedOut) << curl->output();
  expectCancelledOnBothSides(tether, *app_, id, "client_closed", "h2c");
}

// The seeds' loop: the token fires at once, the handler throws at its next check (at most one 1 s step later).
TEST_F(AspNetCore, TheThrowIfCancellationRequestedLoopStopsAtItsNextCheck) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "loop-rst-1";
  AnyClient client(ClientProtocol::kH1);
  startSlowRequest(client, tether, *app_, id, "/slowtest-loop");
  client.leave(Leave::kRst);
  expectCancelledOnBothSides(tether, *app_, id, "client_reset", "http/1.1");
  EXPECT_TRUE(app_->lines("Finished slow loop", id).empty()) << app_->output();
}

// /downstream passes its token to HttpClient.SendAsync (a call to the app's own /slowtest as `<id>-downstream`):
// the client leaving tether cancels the outgoing call, and the downstream request's token fires too.
TEST_F(AspNetCore, TheTokenPassedToHttpClientCancelsTheDownstreamCall) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "downstream-fin-1";
  const std::string downstream = id + "-downstream";
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/downstream", {{"x-request-id", id}}));
  ASSERT_TRUE(app_->waitForLine("Starting to do slow work", downstream)) << app_->output();
  client.leave(Leave::kFin);

  EXPECT_TRUE(app_->waitForLine("Downstream call cancelled", id)) << app_->output();
  const std::optional<std::string> front = app_->waitForLine("RequestAborted fired", id);
  const std::optional<std::string> below = app_->waitForLine("RequestAborted fired", downstream);
  ASSERT_TRUE(front && below) << app_->output();
  EXPECT_TRUE(app_->waitForLine("Request was cancelled", downstream)) << app_->output();
  const std::optional<int64_t> front_ms = isoMillis(*front);
  const std::optional<int64_t> below_ms = isoMillis(*below);
  ASSERT_TRUE(front_ms && below_ms) << *front << "\n" << *below;
  std::cout << "[ measured ] " << downstream << ": RequestAborted " << signedMs(*below_ms - *front_ms)
            << " after the calling request's\n";
  EXPECT_LT(*below_ms - *front_ms, kDelayGuardMs);
  expectCancelledOnBothSides(tether, *app_, id, "client_closed", "http/1.1");
  EXPECT_TRUE(app_->lines("Finished slow delay", downstream).empty()) << app_->output();
}

// A request that completes fires nothing, on either side.
TEST_F(AspNetCore, ACompletedRequestFiresNothing) {
  for (ClientProtocol protocol : {ClientProtocol::kH1, ClientProtocol::kH2c, ClientProtocol::kH2Tls}) {
    SCOPED_TRACE(name(protocol));
    TetherInstance tether(options(protocol));
    const std::string id = std::string("completed-") + name(protocol);
    AnyClient client(protocol);
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.request("GET", "/slowtest?ms=200", {{"x-request-id", id}}));
    const std::optional<AnyClient::Response> response = client.readResponse();
    ASSERT_TRUE(response) << tether.dumpLog() << app_->output();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "Finished slow delay of 0.2 seconds.");
    EXPECT_TRUE(app_->waitForLine("Finished slow delay", id)) << app_->output();
    client.leave(Leave::kFin);  // after the response: nothing is left to cancel

    EXPECT_EQ(tether.stop(), 0);  // every line written, tether's upstream connections closed
    const std::vector<JsonValue> completed = tether.logEvents("request_completed", id);
    ASSERT_EQ(completed.size(), 1u) << tether.dumpLog();
    EXPECT_EQ(completed[0].integerAt("status"), 200);
    EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
    EXPECT_TRUE(tether.logEvents("client_gone").empty()) << tether.dumpLog();
    // A later request's line, logged after anything this one could have caused: the app's log is in order.
    AnyClient barrier(ClientProtocol::kH1);
    ASSERT_TRUE(barrier.connect(app_->port()));
    ASSERT_TRUE(barrier.request("GET", "/slowtest?ms=0", {{"x-request-id", id + "-barrier"}}));
    ASSERT_TRUE(barrier.readResponse());
    ASSERT_TRUE(app_->waitForLine("Finished slow delay", id + "-barrier")) << app_->output();
    EXPECT_TRUE(app_->lines("RequestAborted fired", id).empty()) << app_->output();
    EXPECT_TRUE(app_->lines("Request was cancelled", id).empty()) << app_->output();
  }
}

// The deadline end to end: tether's route has a 3 s timeout and sends the remaining budget in X-Request-Timeout-Ms;
// the handler turns it into CancelAfter(budget - margin), stops by itself and answers 504 before tether's deadline.
// tether then logs an ordinary request_completed with the app's 504: nothing was cancelled by the proxy.
TEST_F(AspNetCore, TheDeadlineHeaderStopsTheHandlerBeforeTethersDeadline) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "deadline-1";
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/deadline", {{"x-request-id", id}}));
  const std::optional<AnyClient::Response> response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog() << app_->output();
  EXPECT_EQ(response->status, 504);
  EXPECT_EQ(response->body, "{\"error\":\"deadline_exceeded\",\"request_id\":\"" + id + "\"}");

  const std::optional<std::string> started = app_->waitForLine("Starting work with a deadline", id);
  ASSERT_TRUE(started) << app_->output();
  // budget_ms: what tether computed when it sent the request, a little under the route's 3 s.
  const size_t budget_at = started->find("budget_ms=");
  ASSERT_NE(budget_at, std::string::npos) << *started;
  const int budget = std::stoi(started->substr(budget_at + 10));
  EXPECT_GT(budget, kDeadlineMarginMs) << *started;
  EXPECT_LE(budget, 3000) << *started;
  const std::optional<std::string> stopped = app_->waitForLine("Deadline reached, work stopped", id);
  ASSERT_TRUE(stopped) << app_->output();

  EXPECT_EQ(tether.stop(), 0);
  EXPECT_TRUE(tether.logEvents("request_cancelled", id).empty()) << tether.dumpLog();
  const std::vector<JsonValue> completed = tether.logEvents("request_completed", id);
  ASSERT_EQ(completed.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(completed[0].integerAt("status"), 504);
  EXPECT_EQ(completed[0].str("route"), "deadline");
  EXPECT_GE(completed[0].integerAt("elapsed_ms").value_or(0), budget - kDeadlineMarginMs - 100);
  std::cout << "[ measured ] " << id << ": " << *started << "\n[ measured ] " << id << ": " << *stopped
            << "\n[ measured ] " << id << ": tether request_completed status 504 at "
            << completed[0].str("ts").value_or("") << ", elapsed_ms "
            << completed[0].integerAt("elapsed_ms").value_or(-1) << "\n";
  EXPECT_TRUE(app_->lines("Request was cancelled", id).empty()) << app_->output();
}

// The contrast: a handler that does not read the header runs into tether's own deadline. tether answers 504 and
// cancels (deadline_exceeded), and the app sees it as a client that left: RequestAborted.
TEST_F(AspNetCore, TethersDeadlineCancelsAHandlerThatIgnoresTheHeader) {
  TetherInstance tether(
      options(ClientProtocol::kH1, {{"slowtest-deadline", "{path: /slowtest}", "", {{"timeout", "1s"}}}}));
  const std::string id = "tether-deadline-1";
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/slowtest", {{"x-request-id", id}}));
  const std::optional<AnyClient::Response> response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 504);
  EXPECT_TRUE(app_->waitForLine("Starting to do slow work", id)) << app_->output();
  expectCancelledOnBothSides(tether, *app_, id, "deadline_exceeded", "http/1.1");
  EXPECT_EQ(tether.logEvents("request_cancelled", id).at(0).integerAt("status"), 504);
}

// Writes `body_bytes` of request body until the connection stops taking them: every buffer on the way is full, so
// Kestrel has stopped reading it. True once stalled; false if the whole body went through or on an error.
bool sendUntilStalled(int fd, uint64_t body_bytes) {
  const std::string chunk(64 * 1024, 'x');
  for (uint64_t sent = 0; sent < body_bytes;) {
    const ssize_t n =
        ::send(fd, chunk.data(), std::min<uint64_t>(chunk.size(), body_bytes - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN) return false;
    pollfd writable{fd, POLLOUT, 0};
    // Absence is the claim here: nothing drains the connection for a whole second.
    if (::poll(&writable, 1, 1000) == 0) return true;
  }
  return false;
}

// What Kestrel does not notice, even behind tether: a handler that does not read a request body larger than
// Kestrel's request buffer (MaxRequestBufferSize, 1 MiB). Kestrel stops reading the connection, so the reset tether
// sends when the client leaves lands in a socket nobody reads: RequestAborted stays quiet and the handler runs to
// its end. tether itself cancels (reading_request, client_reset).
TEST_F(AspNetCore, KestrelMissesTheCancelWhileAnUnreadBodyFillsItsBuffer) {
  TetherInstance tether(options(ClientProtocol::kH1));
  const std::string id = "unread-body-1";
  constexpr uint64_t kBody = 256ull << 20;  // far beyond every buffer on the way
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send("GET /slowtest?ms=3000 HTTP/1.1\r\nHost: test\r\nX-Request-Id: " + id +
                          "\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n"));
  ASSERT_TRUE(app_->waitForLine("Starting to do slow work", id)) << app_->output();
  ASSERT_TRUE(sendUntilStalled(client.fd(), kBody));
  client.closeWithRst();

  const std::vector<JsonValue> events = tether.waitForLogEvents("request_cancelled", id, 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), "reading_request");
  EXPECT_EQ(events[0].str("reason"), "client_reset");
  EXPECT_TRUE(app_->waitForLine("Finished slow delay of 3 seconds.", id)) << app_->output();
  EXPECT_TRUE(app_->lines("RequestAborted fired", id).empty()) << app_->output();
  EXPECT_TRUE(app_->lines("Request was cancelled", id).empty()) << app_->output();
}

// What Kestrel notices on its own, with no tether in front: a client that half-closes its HTTP/1.1 connection
// (shutdown(SHUT_WR) after the request) or resets it. Kestrel treats both as the client leaving: RequestAborted
// fires within milliseconds, and after a half-close Kestrel closes the connection without an answer (so a scripted
// client that half-closes on purpose gets nothing from Kestrel; tether's `half_close: wait` is the way to serve
// those).
void expectRequestAbortedWhenTheClientLeavesKestrel(const AspNetCoreApp& app, Leave how) {
  const std::string id = std::string("direct-") + name(how);
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(app.port()));
  ASSERT_TRUE(client.request("GET", "/slowtest", {{"x-request-id", id}}));
  ASSERT_TRUE(app.waitForLine("Starting to do slow work", id)) << app.output();
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  client.leave(how);

  const std::optional<std::string> fired = app.waitForLine("RequestAborted fired", id);
  ASSERT_TRUE(fired) << app.output();
  EXPECT_TRUE(app.waitForLine("Request was cancelled", id)) << app.output();
  const std::optional<int64_t> fired_ms = isoMillis(*fired);
  ASSERT_TRUE(fired_ms) << *fired;
  std::cout << "[ measured ] " << id << ": RequestAborted " << signedMs(*fired_ms - left.count()) << " after the "
            << name(how) << "\n";
  EXPECT_LT(*fired_ms - left.count(), kDelayGuardMs);
  if (how == Leave::kFin) {
    EXPECT_TRUE(client.waitClosed()) << "Kestrel kept the half-closed connection open";
    EXPECT_EQ(client.response().status, 0) << "Kestrel answered a half-closed connection";
  }
}

TEST_F(AspNetCore, KestrelAloneFiresRequestAbortedOnAHalfClose) {
  expectRequestAbortedWhenTheClientLeavesKestrel(*app_, Leave::kFin);
}

TEST_F(AspNetCore, KestrelAloneFiresRequestAbortedOnAReset) {
  expectRequestAbortedWhenTheClientLeavesKestrel(*app_, Leave::kRst);
}

}  // namespace
}  // namespace tether::testing
