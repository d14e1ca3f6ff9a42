#include "example_departure.h"

#include <gtest/gtest.h>

#include <chrono>

#include "example_app.h"
#include "support/process.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

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
    EXPECT_EQ(curl.waitExit(30s), 28) << curl.output();
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
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, 30s).size(), 1u) << tether.dumpLog();
  return true;
}

}  // namespace tether::testing
