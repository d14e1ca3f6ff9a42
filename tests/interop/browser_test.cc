// A real browser behind tether: headless Chromium (browser_driver.h) opens a page served through tether, starts
// `fetch(slow, {signal})` and then leaves the way a user does: AbortController.abort() (a "stop" button), navigating
// the tab elsewhere, or closing the tab. The proof is on both sides, for the same X-Request-Id: the app's own
// cancellation signal fired (its log line) and tether wrote exactly one request_cancelled line, with the phase,
// reason and the protocol the browser really spoke (http/1.1 over a cleartext listener, h2 over a TLS listener with
// ALPN). A fetch that completes fires nothing.
//
// What Chromium sends when it leaves (the `reason` tether logs, measured here):
//
//   client        | abort()        | navigation away | tab closed
//   HTTP/1.1      | client_closed  | client_closed   | client_closed    (the socket is closed: a FIN)
//   h2 over TLS   | stream_reset   | stream_reset    | stream_reset*    (RST_STREAM(CANCEL); the connection stays)
//
// * or client_reset, about half the time: Chromium tears the connection down before the RST_STREAM goes out.
//
// The apps are a parameter (browser_app.h): each case runs against every app in appKinds(). The delays from the
// browser's action to tether's line and to the app's line are printed and recorded as test properties; they are
// asserted only against a generous guard (kGuard), the bound is in docs/upstreams.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "aspnetcore_app.h"
#include "browser_app.h"
#include "browser_driver.h"
#include "output_lines.h"
#include "support/any_client.h"
#include "support/protocol_matrix.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;  // waits for events: only a failing test waits this long
constexpr auto kGuard = 5s;   // the browser's action to both cancellation lines: a guard against "never"

// Why the browser cannot run here, or empty when it can.
std::string browserMissing() {
  if (access(TETHER_NODE, X_OK) != 0) return "node not found at configure time (deploy/setup.sh installs nodejs)";
  if (access(TETHER_CHROMIUM, X_OK) != 0) return "chromium not found (deploy/setup.sh installs it)";
  if (access(TETHER_BROWSER_DRIVER, R_OK) != 0) return std::string("not built: ") + TETHER_BROWSER_DRIVER;
  return {};
}

// The apps every case runs against. To add one: a BrowserApp subclass (see browser_app.h) and a line here.
struct AppKind {
  const char* name;
  std::function<std::unique_ptr<BrowserApp>()> make;
  std::function<std::string()> missing;  // why the app cannot run here, or empty
};
std::vector<AppKind> appKinds() {
  return {{"Go", makeGoBrowserApp, [] { return std::string(); }},
          {"AspNetCore", makeAspNetCoreBrowserApp, AspNetCoreApp::missing}};
}

enum class Departure { kAbort, kNavigate, kCloseTab };
const char* name(Departure how) {
  switch (how) {
    case Departure::kAbort: return "Abort";
    case Departure::kNavigate: return "Navigate";
    case Departure::kCloseTab: return "CloseTab";
  }
  return "?";
}

struct BrowserCase {
  AppKind app;
  ClientProtocol client;  // kH1 (cleartext listener) or kH2Tls (TLS listener, ALPN h2)
  Departure how;
};
// "GoApp_H2Tls_Abort"
std::string caseName(const BrowserCase& c) {
  return std::string(c.app.name) + "App_" + name(c.client) + "_" + name(c.how);
}
void PrintTo(const BrowserCase& c, std::ostream* out) { *out << caseName(c); }
std::string testName(const ::testing::TestParamInfo<BrowserCase>& info) { return caseName(info.param); }
// "GoApp_H1": for the cases that do not leave.
std::string appAndClientName(const ::testing::TestParamInfo<BrowserCase>& info) {
  return std::string(info.param.app.name) + "App_" + name(info.param.client);
}

std::vector<BrowserCase> everyCase(std::vector<Departure> departures) {
  std::vector<BrowserCase> cases;
  for (const AppKind& app : appKinds()) {
    for (ClientProtocol client : {ClientProtocol::kH1, ClientProtocol::kH2Tls}) {
      for (Departure how : departures) cases.push_back({app, client, how});
    }
  }
  return cases;
}

// The reasons tether may log. Chromium closes an HTTP/1.1 connection (it cannot stop a response and keep the
// connection: a FIN) and resets only the stream on HTTP/2. Closing the tab over h2 races: RST_STREAM, or Chromium
// tears the connection down first: a TCP reset (presumably with bytes from tether still unread).
std::vector<std::string> expectedReasons(ClientProtocol client, Departure how) {
  if (!isH2(client)) return {"client_closed"};
  if (how == Departure::kCloseTab) return {"stream_reset", "client_reset", "client_closed"};
  return {"stream_reset"};
}

// Milliseconds since the epoch of a log line's `ts` ("2026-11-23T14:02:17.348Z").
std::optional<int64_t> epochMs(const std::string& ts) {
  std::tm tm{};
  int ms = 0;
  if (sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
             &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

int64_t nowEpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The last field of a driver line ("aborted <id> <epoch ms>").
int64_t lastFieldMs(const std::string& line) { return std::stoll(fields(line).back()); }

// One Chromium per test suite (its start is the slow part); each test opens its own page in a fresh browser context,
// so no connection outlives the test that opened it.
class BrowserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!browserMissing().empty()) return;
    try {
      driver_ = std::make_unique<BrowserDriver>(TETHER_NODE, TETHER_BROWSER_DRIVER, TETHER_CHROMIUM);
    } catch (const std::exception& error) {
      start_error_ = error.what();
    }
  }
  static void TearDownTestSuite() { driver_.reset(); }

  void SetUp() override {
    TETHER_REQUIRE_RUNTIME(browserMissing());
    ASSERT_TRUE(driver_) << start_error_;
  }

  static TetherOptions options(const BrowserApp& app, ClientProtocol client) {
    TetherOptions options;
    options.addUpstream("app", {app.endpoint()}, {{"connect_timeout", "5s"}});
    options.addRoute("all", "{path_prefix: /}", "app");
    return forClient(options, client);
  }

  static std::string origin(const TetherInstance& tether, ClientProtocol client) {
    return std::string(isTls(client) ? "https" : "http") + "://127.0.0.1:" + std::to_string(tether.port());
  }

  // Opens `app`'s fast path through tether as the page (same origin for the fetches: no CORS). Returns the protocol
  // the browser loaded it with (nextHopProtocol: "http/1.1", "h2").
  static std::optional<std::string> openPage(const TetherInstance& tether, ClientProtocol client, const BrowserApp& app,
                                             const std::string& id) {
    const std::string url = origin(tether, client) + app.fastPath() + "?page=" + id;
    driver_->send("open " + url);
    const auto opened = driver_->waitForLine("opened " + url + " ");
    if (!opened) return std::nullopt;
    return fields(*opened).back();
  }

  static std::unique_ptr<BrowserDriver> driver_;
  static std::string start_error_;
};
std::unique_ptr<BrowserDriver> BrowserTest::driver_;
std::string BrowserTest::start_error_;

class BrowserCancellation : public BrowserTest, public ::testing::WithParamInterface<BrowserCase> {};

TEST_P(BrowserCancellation, TheAppsSignalFiresAndTetherLogsOneCancellation) {
  const BrowserCase& c = GetParam();
  TETHER_REQUIRE_RUNTIME(c.app.missing());
  const auto app = c.app.make();
  TetherInstance tether(options(*app, c.client));
  const std::string id = "browser-" + caseName(c);

  const auto page_protocol = openPage(tether, c.client, *app, id);
  ASSERT_TRUE(page_protocol) << driver_->output() << tether.dumpLog();
  EXPECT_EQ(*page_protocol, isH2(c.client) ? "h2" : "http/1.1");
  driver_->send("fetch " + id + " " + app->slowPath() + "?browser=" + id);
  ASSERT_EQ(waitForLinesWith(app->process(), app->started(id), 1, kBound).size(), 1u)
      << app->process().output() << driver_->output();

  std::optional<std::string> left;  // the driver's line, with the epoch ms just before the browser acted
  switch (c.how) {
    case Departure::kAbort:
      driver_->send("abort " + id);
      left = driver_->waitForLine("aborted " + id + " ");
      break;
    case Departure::kNavigate: {
      const std::string elsewhere = origin(tether, c.client) + app->fastPath() + "?elsewhere=" + id;
      driver_->send("navigate " + elsewhere);
      left = driver_->waitForLine("navigated " + elsewhere + " ");
      break;
    }
    case Departure::kCloseTab:
      driver_->send("closepage " + id);
      left = driver_->waitForLine("closed " + id + " ");
      break;
  }
  ASSERT_TRUE(left) << driver_->output();
  const int64_t left_ms = lastFieldMs(*left);

  // The app's own signal, timed by the app's line (or, if it has no time, when this test saw it: an upper bound).
  const auto app_lines = waitForLinesWith(app->process(), app->cancelled(id), 1, kBound);
  ASSERT_EQ(app_lines.size(), 1u) << app->process().output() << tether.dumpLog();
  const int64_t app_delay_ms = app->lineEpochMs(app_lines[0]).value_or(nowEpochMs()) - left_ms;
  const auto events = tether.waitForLogEvents("request_cancelled", id, 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), "awaiting_response");
  const std::string reason = events[0].str("reason").value_or("");
  EXPECT_THAT(expectedReasons(c.client, c.how), ::testing::Contains(reason));
  EXPECT_EQ(events[0].integerAt("status"), 499);
  EXPECT_EQ(events[0].str("protocol"), logProtocol(c.client));  // the browser really spoke h2 (or HTTP/1.1)
  EXPECT_EQ(events[0].str("path"), app->slowPath());
  const auto cancelled_ms = epochMs(events[0].str("ts").value_or(""));
  ASSERT_TRUE(cancelled_ms) << tether.dumpLog();
  const int64_t tether_delay_ms = *cancelled_ms - left_ms;
  std::cout << "[ delays   ] " << caseName(c) << ": " << name(c.how) << " -> tether request_cancelled "
            << tether_delay_ms << " ms (" << reason << "), -> the app's cancellation line " << app_delay_ms
            << " ms (tether -> app " << app_delay_ms - tether_delay_ms << " ms)\n";
  std::cout << "[ app line ] " << app_lines[0] << "\n";
  for (const std::string& line : tether.logLinesWith({"\"request_cancelled\"", "\"" + id + "\""})) {
    std::cout << "[ tether   ] " << line << "\n";
  }
  RecordProperty("tether_delay_ms", static_cast<int>(tether_delay_ms));
  RecordProperty("app_delay_ms", static_cast<int>(app_delay_ms));
  EXPECT_LT(tether_delay_ms, std::chrono::milliseconds(kGuard).count());
  EXPECT_LT(app_delay_ms, std::chrono::milliseconds(kGuard).count());
  if (c.how == Departure::kAbort) {
    EXPECT_TRUE(driver_->waitForLine("fetch " + id + " error AbortError")) << driver_->output();
  }

  // Closing the tab (again) cancels nothing more: the page and every other request had completed.
  driver_->send("closepage end-" + id);
  ASSERT_TRUE(driver_->waitForLine("closed end-" + id + " ")) << driver_->output();
  tether.stop();  // every line written
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("client_gone").empty()) << tether.dumpLog();
  EXPECT_EQ(linesWith(app->process().output(), app->cancelled(id)).size(), 1u) << app->process().output();
}

INSTANTIATE_TEST_SUITE_P(
    Interop, BrowserCancellation,
    ::testing::ValuesIn(everyCase({Departure::kAbort, Departure::kNavigate, Departure::kCloseTab})), testName);

// The negative: a fetch that completes fires nothing, in the app or in tether.
class BrowserCompletedFetch : public BrowserTest, public ::testing::WithParamInterface<BrowserCase> {};

TEST_P(BrowserCompletedFetch, FiresNoCancellation) {
  const BrowserCase& c = GetParam();
  TETHER_REQUIRE_RUNTIME(c.app.missing());
  const auto app = c.app.make();
  TetherInstance tether(options(*app, c.client));
  const std::string id = "browser-" + std::string(c.app.name) + "-" + name(c.client) + "-completed";

  ASSERT_TRUE(openPage(tether, c.client, *app, id)) << driver_->output() << tether.dumpLog();
  driver_->send("fetch " + id + " " + app->fastPath() + "?browser=" + id);
  ASSERT_TRUE(driver_->waitForLine("fetch " + id + " status 200")) << driver_->output() << tether.dumpLog();
  ASSERT_EQ(waitForLinesWith(app->process(), app->completed(id), 1, kBound).size(), 1u) << app->process().output();
  driver_->send("closepage " + id);
  ASSERT_TRUE(driver_->waitForLine("closed " + id + " ")) << driver_->output();

  tether.stop();  // every line written
  const auto completed = tether.logEvents("request_completed", id);
  ASSERT_EQ(completed.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(completed[0].integerAt("status"), 200);
  EXPECT_EQ(completed[0].str("protocol"), logProtocol(c.client));
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("client_gone").empty()) << tether.dumpLog();
  EXPECT_TRUE(linesWith(app->process().output(), app->cancelled(id)).empty()) << app->process().output();
}

INSTANTIATE_TEST_SUITE_P(Interop, BrowserCompletedFetch, ::testing::ValuesIn(everyCase({Departure::kAbort})),
                         appAndClientName);

}  // namespace
}  // namespace tether::testing
