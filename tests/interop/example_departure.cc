#include "example_departure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "example_app.h"
#include "support/process.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;            // only a failing test waits this long
constexpr int64_t kSignalBound = 5000;  // ms from tether's request_cancelled to the app's line: a guard only

// curl gives up after this long; well after the request reached the app even on a busy machine (the test checks
// that it did, from the app's `request started` line, before curl gave up).
constexpr const char* kCurlMaxTime = "3";

bool viaCurl(Departure departure) {
  return departure == Departure::kCurlFin || departure == Departure::kCurlH2cFin ||
         departure == Departure::kCurlH2TlsTimeout;
}

std::vector<std::string> curlArgv(Departure departure, const TetherInstance& tether, std::string_view path,
                                  const std::string& id) {
  std::vector<std::string> argv{kCurl,        "-s",         "-o", "/dev/null",
                                "--max-time", kCurlMaxTime, "-H", "X-Request-Id: " + id};
  const std::string authority = "127.0.0.1:" + std::to_string(tether.port());
  if (departure == Departure::kCurlH2TlsTimeout) {
    // tether's test certificate is self-signed: -k (the test is about the departure, not about trust).
    argv.insert(argv.end(), {"-k", "--http2", "https://" + authority + std::string(path)});
  } else if (departure == Departure::kCurlH2cFin) {
    argv.insert(argv.end(), {"--http2-prior-knowledge", "http://" + authority + std::string(path)});
  } else {
    argv.push_back("http://" + authority + std::string(path));
  }
  return argv;
}

}  // namespace

const char* name(Departure departure) {
  switch (departure) {
    case Departure::kCurlFin: return "CurlFin";
    case Departure::kCurlH2cFin: return "CurlH2cFin";
    case Departure::kCurlH2TlsTimeout: return "CurlH2TlsTimeout";
    case Departure::kRst: return "Rst";
    case Departure::kH2cStreamReset: return "H2cStreamReset";
    case Departure::kH2TlsStreamReset: return "H2TlsStreamReset";
  }
  return "?";
}

std::vector<Departure> everyExampleDeparture() {
  return {Departure::kCurlFin, Departure::kCurlH2cFin,     Departure::kCurlH2TlsTimeout,
          Departure::kRst,     Departure::kH2cStreamReset, Departure::kH2TlsStreamReset};
}

ClientProtocol clientProtocol(Departure departure) {
  switch (departure) {
    case Departure::kCurlFin:
    case Departure::kRst: return ClientProtocol::kH1;
    case Departure::kCurlH2cFin:
    case Departure::kH2cStreamReset: return ClientProtocol::kH2c;
    case Departure::kCurlH2TlsTimeout:
    case Departure::kH2TlsStreamReset: return ClientProtocol::kH2Tls;
  }
  return ClientProtocol::kH1;
}

std::vector<std::string> expectedReasons(Departure departure) {
  switch (departure) {
    case Departure::kCurlFin:
    case Departure::kCurlH2cFin: return {cancelReason(Leave::kFin)};
    case Departure::kCurlH2TlsTimeout: return {cancelReason(Leave::kRst), cancelReason(Leave::kFin)};
    case Departure::kRst: return {cancelReason(Leave::kRst)};
    case Departure::kH2cStreamReset:
    case Departure::kH2TlsStreamReset: return {cancelReason(Leave::kStreamReset)};
  }
  return {};
}

std::string expectedProtocol(Departure departure) { return logProtocol(clientProtocol(departure)); }

bool sendAndLeave(Departure departure, const TetherInstance& tether, const ExampleApp& app, std::string_view path,
                  const std::string& id, const std::string& started_id) {
  const std::string& reached_id = started_id.empty() ? id : started_id;
  if (viaCurl(departure)) {
    Process curl(curlArgv(departure, tether, path, id));
    const bool reached = app.waitFor("request started", reached_id).has_value();
    EXPECT_TRUE(reached) << app.output() << tether.dumpLog();
    // 28: "operation timed out", curl's --max-time; it closed its connection then.
    EXPECT_EQ(curl.waitExit(kBound), 28) << curl.output();
    return reached;
  }
  AnyClient client(clientProtocol(departure));
  if (!client.connect(tether.port()) || !client.request("GET", path, {{"X-Request-Id", id}})) {
    ADD_FAILURE() << "could not send " << path << " through tether";
    return false;
  }
  if (!app.waitFor("request started", reached_id)) {
    ADD_FAILURE() << "the request did not reach the app:\n" << app.output() << tether.dumpLog();
    return false;
  }
  client.leave(departure == Departure::kRst ? Leave::kRst : Leave::kStreamReset);
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, kBound).size(), 1u) << tether.dumpLog();
  return true;
}

void expectCancelledOnBothSides(TetherInstance& tether, const ExampleApp& app, const std::string& id,
                                const std::vector<std::string>& reasons, const std::string& protocol) {
  const auto app_line = app.waitFor("request cancelled", id);
  ASSERT_TRUE(app_line) << app.output() << tether.dumpLog();
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, kBound).size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.stop(), 0);
  const auto events = tether.logEvents("request_cancelled", id);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("phase"), "awaiting_response");
  EXPECT_THAT(reasons, ::testing::Contains(events[0].str("reason").value_or(""))) << tether.dumpLog();
  EXPECT_EQ(events[0].str("protocol"), protocol);
  const auto delay = millisBetween(events[0], *app_line);
  ASSERT_TRUE(delay) << *app_line;
  ::testing::Test::RecordProperty("cancel_delay_ms", std::to_string(*delay));
  std::printf("cancel delay %s: %lld ms, reason %s\n", id.c_str(), static_cast<long long>(*delay),
              events[0].str("reason").value_or("").c_str());
  EXPECT_LE(*delay, kSignalBound) << *app_line << "\n" << tether.dumpLog();
  EXPECT_EQ(app.count("request cancelled", id), 1u) << app.output();
}

void expectCompletesWithoutCancellation(TetherInstance& tether, const ExampleApp& app, const std::string& id) {
  Process curl(
      {kCurl, "-s", "-H", "X-Request-Id: " + id, "http://127.0.0.1:" + std::to_string(tether.port()) + "/fast"});
  EXPECT_EQ(curl.waitExit(kBound), 0);
  EXPECT_TRUE(curl.waitForOutput("fast\n")) << curl.output();  // the reader may lag the exit: wait for the bytes
  ASSERT_TRUE(app.waitFor("request completed", id)) << app.output();
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_EQ(tether.logEvents("request_completed", id).size(), 1u) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_EQ(app.output().find("cancelled"), std::string::npos) << app.output();
}

}  // namespace tether::testing
