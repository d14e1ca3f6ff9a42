// The cancellation log is an interface: every line is one JSON object, request_cancelled lines
// carry the documented fields with the documented types. And the end-to-end demo: curl gives up
// on tether, tether cancels, the demo upstream stops its slow work.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;
using Clock = std::chrono::steady_clock;

uint16_t localPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

// "2024-05-01T12:34:56.789Z", and within a minute of now.
void expectTimestamp(const JsonValue& line, const std::string& raw) {
  static const std::regex kRfc3339Ms(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  const auto ts = line.str("ts");
  ASSERT_TRUE(ts) << "no string ts: " << raw;
  ASSERT_TRUE(std::regex_match(*ts, kRfc3339Ms)) << "ts not RFC 3339 UTC with milliseconds: " << *ts;
  std::tm tm{};
  ASSERT_NE(strptime(ts->c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << *ts;
  const time_t when = timegm(&tm);
  const time_t now = std::time(nullptr);
  EXPECT_LT(std::abs(static_cast<long long>(now - when)), 60) << "ts is not the current UTC time: " << *ts;
}

bool isIpPort(const std::string& text) {
  static const std::regex kIpPort(R"(^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$)");
  return std::regex_match(text, kIpPort);
}

// The documented request_cancelled fields and their types.
void expectCancelledSchema(const JsonValue& line, const std::string& raw) {
  expectTimestamp(line, raw);
  EXPECT_EQ(line.str("event"), "request_cancelled");
  for (const char* key :
       {"request_id", "route", "method", "path", "client", "protocol", "upstream", "phase", "reason"}) {
    EXPECT_TRUE(line.str(key)) << key << " is not a string: " << raw;
  }
  EXPECT_FALSE(line.str("request_id").value_or("").empty());
  EXPECT_EQ(line.str("path").value_or("?").find('?'), std::string::npos) << "query string logged: " << raw;
  EXPECT_EQ(line.str("path").value_or("").substr(0, 1), "/") << raw;
  EXPECT_TRUE(isIpPort(line.str("client").value_or(""))) << raw;
  EXPECT_EQ(line.str("protocol"), "http/1.1");
  const JsonValue* endpoint = line.find("endpoint");
  ASSERT_TRUE(endpoint) << "no endpoint: " << raw;
  EXPECT_TRUE(endpoint->isNull() || (endpoint->isString() && isIpPort(endpoint->text))) << raw;
  const std::string phase = line.str("phase").value_or("");
  EXPECT_TRUE(phase == "reading_request" || phase == "queued" || phase == "connecting" ||
              phase == "awaiting_response" || phase == "streaming_response")
      << raw;
  const std::string reason = line.str("reason").value_or("");
  EXPECT_TRUE(reason == "client_closed" || reason == "client_reset" || reason == "deadline_exceeded" ||
              reason == "shutdown" || reason == "drain_limit")
      << raw;
  for (const char* key : {"elapsed_ms", "bytes_received", "bytes_sent", "status"}) {
    ASSERT_TRUE(line.integerAt(key)) << key << " is not an integer: " << raw;
    EXPECT_GE(*line.integerAt(key), 0) << key << ": " << raw;
  }
  const JsonValue* upstream_elapsed = line.find("upstream_elapsed_ms");
  ASSERT_TRUE(upstream_elapsed) << "no upstream_elapsed_ms: " << raw;
  EXPECT_TRUE(upstream_elapsed->isNull() || (upstream_elapsed->isInt() && upstream_elapsed->int_value >= 0)) << raw;
  if (upstream_elapsed->isInt()) {
    EXPECT_LE(upstream_elapsed->int_value, *line.integerAt("elapsed_ms")) << raw;
    EXPECT_TRUE(endpoint->isString()) << "upstream time without an endpoint: " << raw;
  }
}

TEST(CancellationLog, H1ClientMixedOutcomes_EveryLineIsJsonAndCancelledLinesHaveDocumentedFields) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "ok";
    if (request.target.rfind("/slow", 0) == 0) reply.delay = 60s;  // cancelled long before
    if (request.target.rfind("/ignore/", 0) == 0) reply.delay = 300ms;
    return reply;
  });
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("ignored", "{path_prefix: /ignore/}", "backend", {{"cancellation", "{mode: ignore}"}})
      .addRoute("all", "{path_prefix: /}", "backend");
  TetherInstance tether(options);

  // 1. completed
  {
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.send(getRequest("/ok?secret=1", "X-Request-Id: log-ok\r\n")));
    ASSERT_TRUE(client.readResponse(30s));
  }
  // 2. cancelled while awaiting the response (FIN), with a query string
  uint16_t cancel_port = 0;
  const auto cancel_sent = Clock::now();
  {
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    cancel_port = localPort(client.fd());
    ASSERT_TRUE(client.send(getRequest("/slow/item?token=abc", "X-Request-Id: log-cancel\r\n")));
    ASSERT_TRUE(upstream.waitForRequests(2, 30s));
    std::this_thread::sleep_for(150ms);  // not a wait for an event: a known minimum for elapsed_ms to show
  }
  const auto cancel_left = Clock::now();
  // 3. client_gone: ignored route, the upstream finishes
  {
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.send(getRequest("/ignore/x", "X-Request-Id: log-gone\r\n")));
    ASSERT_TRUE(upstream.waitForRequests(3, 30s));
  }
  ASSERT_EQ(tether.waitForLogEvents("client_gone", "log-gone", 1, 30s).size(), 1u) << tether.dumpLog();
  // 4. cancelled while the request body arrives (RST)
  {
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(
        client.send("PUT /slow/upload?x=1 HTTP/1.1\r\nHost: test\r\nX-Request-Id: log-reading\r\n"
                    "Content-Length: 100\r\n\r\nabc"));
    // tether has read the 3 body bytes once they reach the upstream (a reset would discard unread ones).
    ASSERT_TRUE(upstream.waitForReceivedEnding("\r\n\r\nabc", 30s));
    client.closeWithRst();
  }
  // 5. a generated request id
  {
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.send(getRequest("/slow/generated")));
    ASSERT_TRUE(upstream.waitForRequests(4, 30s));
    client.closeWithRst();
  }
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", "", 3, 30s).size(), 3u) << tether.dumpLog();
  // barrier
  {
    RawClient client;
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.send(getRequest("/ok", "X-Request-Id: log-barrier\r\n")));
    ASSERT_TRUE(client.readResponse(30s));
    ASSERT_EQ(tether.waitForLogEvents("request_completed", "log-barrier", 1, 30s).size(), 1u) << tether.dumpLog();
  }

  // Every line: one JSON object with ts and event.
  const auto lines = tether.logLines();
  ASSERT_GE(lines.size(), 6u) << tether.dumpLog();
  std::map<std::string, int> events;
  std::vector<std::pair<JsonValue, std::string>> cancelled;
  for (const auto& raw : lines) {
    std::string error;
    const auto line = parseJson(raw, &error);
    ASSERT_TRUE(line) << "not JSON (" << error << "): " << raw;
    ASSERT_EQ(line->kind, JsonValue::Kind::kObject) << raw;
    expectTimestamp(*line, raw);
    ASSERT_TRUE(line->str("event")) << raw;
    // Every line starts with ts, event and level, in that order.
    ASSERT_GE(line->members.size(), 3u) << raw;
    EXPECT_EQ(line->members[0].first, "ts") << raw;
    EXPECT_EQ(line->members[1].first, "event") << raw;
    EXPECT_EQ(line->members[2].first, "level") << raw;
    const std::string event = *line->str("event");
    const std::string level = line->str("level").value_or("");
    if (event == "request_completed") {
      EXPECT_EQ(level, "info") << raw;
    }
    if (event == "request_cancelled" || event == "client_gone") {
      EXPECT_EQ(level, "warn") << raw;
    }
    ++events[event];
    if (line->str("event") == "request_cancelled") cancelled.emplace_back(*line, raw);
  }
  EXPECT_EQ(events["request_completed"], 2) << tether.dumpLog();
  EXPECT_EQ(events["request_cancelled"], 3) << tether.dumpLog();
  EXPECT_EQ(events["client_gone"], 1) << tether.dumpLog();

  // An independent parser agrees that the whole file is JSON Lines.
  if (access("/usr/bin/python3", X_OK) == 0) {
    Process python({"/usr/bin/python3", "-c",
                    "import json,sys\n"
                    "n=0\n"
                    "for l in open(sys.argv[1], encoding='utf-8'):\n"
                    "  v=json.loads(l)\n"
                    "  assert isinstance(v, dict), l\n"
                    "  n+=1\n"
                    "print('parsed', n)\n",
                    tether.logPath()});
    EXPECT_EQ(python.waitExit(10s), 0) << python.output();
    EXPECT_TRUE(python.waitForOutput("parsed " + std::to_string(lines.size()), 1s)) << python.output();
  }

  ASSERT_EQ(cancelled.size(), 3u);
  for (const auto& [line, raw] : cancelled) {
    SCOPED_TRACE(raw);
    expectCancelledSchema(line, raw);
    EXPECT_EQ(line.str("route"), "all");
    EXPECT_EQ(line.str("upstream"), "backend");
    EXPECT_EQ(line.integerAt("status"), 499);
  }

  // The awaiting_response cancellation, field by field.
  const auto cancel = tether.logEvents("request_cancelled", "log-cancel");
  ASSERT_EQ(cancel.size(), 1u);
  const auto& c = cancel[0];
  EXPECT_EQ(c.str("method"), "GET");
  EXPECT_EQ(c.str("path"), "/slow/item");
  EXPECT_EQ(c.str("client"), "127.0.0.1:" + std::to_string(cancel_port));
  EXPECT_EQ(c.str("endpoint"), upstream.address());
  EXPECT_EQ(c.str("phase"), "awaiting_response");
  EXPECT_EQ(c.str("reason"), "client_closed");
  EXPECT_EQ(c.integerAt("bytes_received"), 0);
  EXPECT_EQ(c.integerAt("bytes_sent"), 0);
  const auto elapsed = c.integerAt("elapsed_ms").value_or(-1);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(cancel_left - cancel_sent).count();
  EXPECT_GE(elapsed, 140);
  EXPECT_LE(elapsed, waited + 5000);  // generous for a busy machine; the upstream would have worked 60 s
  EXPECT_GE(c.integerAt("upstream_elapsed_ms").value_or(-1), 140);

  const auto reading = tether.logEvents("request_cancelled", "log-reading");
  ASSERT_EQ(reading.size(), 1u);
  EXPECT_EQ(reading[0].str("method"), "PUT");
  EXPECT_EQ(reading[0].str("path"), "/slow/upload");
  EXPECT_EQ(reading[0].str("phase"), "reading_request");
  EXPECT_EQ(reading[0].str("reason"), "client_reset");
  EXPECT_EQ(reading[0].integerAt("bytes_received"), 3);

  // The request without an id got a generated one in its cancellation line.
  bool generated = false;
  for (const auto& [line, raw] : cancelled) generated |= isHex32(line.str("request_id").value_or(""));
  EXPECT_TRUE(generated) << tether.dumpLog();

  // client_gone carries the same common fields plus what happened after the client left.
  const auto gone = tether.logEvents("client_gone", "log-gone");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].str("route"), "ignored");
  EXPECT_EQ(gone[0].str("ended"), "completed");
  EXPECT_EQ(gone[0].integerAt("upstream_status"), 200);
  EXPECT_TRUE(gone[0].integerAt("ran_on_ms"));
  EXPECT_TRUE(gone[0].integerAt("bytes_discarded"));
}

// ---- end to end with the demo upstream and curl -------------------------------------------------

uint16_t startDemo(Process& demo) {
  const std::string marker = "listening on 127.0.0.1:";
  if (!demo.waitForOutput(marker)) return 0;
  const std::string out = demo.output();
  return static_cast<uint16_t>(std::stoi(out.substr(out.find(marker) + marker.size())));
}

TEST(CancellationDemo, CurlGivesUpOnTether_DemoUpstreamAbortsSlowWork) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"});
  const uint16_t demo_port = startDemo(demo);
  ASSERT_NE(demo_port, 0) << demo.output();
  TetherInstance tether(TetherOptions::proxyTo({"127.0.0.1:" + std::to_string(demo_port)}));

  Process curl({"/usr/bin/curl", "-s", "-o", "/dev/null", "--max-time", "1", "-H", "X-Request-Id: demo-curl-1",
                "http://127.0.0.1:" + std::to_string(tether.port()) + "/slowtest"});
  const auto code = curl.waitExit(30s);
  const auto curl_done = Clock::now();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 28) << "curl did not time out: " << curl.output();
  EXPECT_TRUE(demo.waitForOutput("[demo-curl-1] Starting to do slow work", 30s)) << demo.output();
  EXPECT_TRUE(demo.waitForOutput("[demo-curl-1] request aborted after", 30s))
      << "the demo upstream kept working after curl left\n"
      << demo.output() << "\n"
      << tether.dumpLog();
  // Generous for a busy machine, and still well before the demo's 10 s of slow work would have finished.
  EXPECT_LT(Clock::now() - curl_done, 5s);
  EXPECT_EQ(demo.output().find("Finished"), std::string::npos) << demo.output();

  const auto lines = tether.waitForLogEvents("request_cancelled", "demo-curl-1", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("phase"), "awaiting_response");
  EXPECT_EQ(lines[0].str("reason"), "client_closed");
  EXPECT_EQ(lines[0].str("path"), "/slowtest");
  EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(demo.stop(SIGTERM), 0) << demo.output();
}

}  // namespace
}  // namespace tether::testing
