// The request events' field sets are an interface (docs/logging.md): for each way a request ends, the keys of its
// log line, in order, are pinned here. Set TETHER_PRINT_FIELD_SETS=1 to print them (to compare builds).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// The W3C trace ids close the common fields, null when the request carried no valid traceparent.
const std::vector<std::string> kCommon = {
    "ts",       "event",    "level",    "request_id",        "route",    "method",        "path", "client",
    "protocol", "upstream", "endpoint", "upstream_protocol", "trace_id", "parent_span_id"};

std::vector<std::string> with(std::vector<std::string> fields) {
  std::vector<std::string> all = kCommon;
  all.insert(all.end(), fields.begin(), fields.end());
  return all;
}

// Every request event ends with the gRPC fields (null for a request that is not gRPC).
const std::vector<std::string> kCompleted =
    with({"status", "elapsed_ms", "bytes_received", "bytes_sent", "grpc_method", "grpc_status"});
const std::vector<std::string> kCancelled =
    with({"phase", "reason", "elapsed_ms", "upstream_elapsed_ms", "upstream_reset", "bytes_received", "bytes_sent",
          "status", "grpc_method", "grpc_status"});
const std::vector<std::string> kClientGone =
    with({"phase", "reason", "elapsed_ms", "upstream_elapsed_ms", "upstream_reset", "bytes_received", "bytes_sent",
          "status", "upstream_left_running", "ended", "upstream_status", "ran_on_ms", "bytes_discarded", "grpc_method",
          "grpc_status"});

class LogFieldSets : public ::testing::Test {
 protected:
  LogFieldSets() {
    upstream_.setHandler([](const RecordedRequest& request) {
      Reply reply;
      if (request.target.find("/slow") != std::string::npos) reply.delay = 60s;
      if (request.target.find("/ignore/") == 0) reply.delay = 200ms;
      return reply;
    });
    TetherOptions options;
    options.addUpstream("backend", {upstream_.address()})
        .addUpstream("refused", {"127.0.0.1:" + std::to_string(freePort())})
        .addRoute("ignore", "{path_prefix: /ignore/}", "backend", {{"cancellation", "{mode: ignore}"}})
        .addRoute("deadline", "{path_prefix: /deadline/}", "backend", {{"timeout", "100ms"}})
        .addRoute("refused", "{path_prefix: /refused/}", "refused")
        .addRoute("ok", "{path_prefix: /ok/}", "backend");
    tether_.emplace(options);
  }

  // The keys of the one line of `event` for `id`, in order.
  std::vector<std::string> fieldsOf(const std::string& event, const std::string& id) {
    const auto events = tether_->waitForLogEvents(event, id, 1, 30s);
    EXPECT_EQ(events.size(), 1u) << event << " " << id;
    std::vector<std::string> keys;
    if (events.empty()) return keys;
    last_ = events[0];
    for (const auto& [key, value] : events[0].members) keys.push_back(key);
    if (std::getenv("TETHER_PRINT_FIELD_SETS")) {
      std::string text = id + " " + event + ":";
      for (const auto& key : keys) text += " " + key;
      std::printf("[ fields ] %s\n", text.c_str());
    }
    return keys;
  }

  std::string answered(const std::string& target, const std::string& id, const std::string& more_fields = "") {
    RawClient client;
    EXPECT_TRUE(client.connect(tether_->port()));
    EXPECT_TRUE(client.send(getRequest(target, "X-Request-Id: " + id + "\r\n" + more_fields)));
    const auto response = client.readResponse(30s);
    EXPECT_TRUE(response);
    return response ? std::to_string(response->status) : "none";
  }

  void leftWhileWaiting(const std::string& target, const std::string& id) {
    RawClient client;
    ASSERT_TRUE(client.connect(tether_->port()));
    const int before = static_cast<int>(upstream_.requests().size());
    ASSERT_TRUE(client.send(getRequest(target, "X-Request-Id: " + id + "\r\n")));
    ASSERT_TRUE(upstream_.waitForRequests(before + 1, 30s));
    client.close();
  }

  // A string field of the line fieldsOf() read last; "null" for a JSON null.
  std::string valueOf(std::string_view key) const {
    const JsonValue* value = last_.find(key);
    if (value == nullptr) return "absent";
    return value->isNull() ? "null" : value->text;
  }

  TestUpstream upstream_;
  std::optional<TetherInstance> tether_;
  JsonValue last_;
};

TEST_F(LogFieldSets, CompletedOk) {
  EXPECT_EQ(answered("/ok/x", "fs-ok"), "200");
  EXPECT_EQ(fieldsOf("request_completed", "fs-ok"), kCompleted);
  EXPECT_EQ(valueOf("upstream_protocol"), "http1");
  EXPECT_EQ(valueOf("trace_id"), "null");  // no traceparent
  EXPECT_EQ(valueOf("parent_span_id"), "null");
}

TEST_F(LogFieldSets, CompletedWithTraceparentHasTheSameKeys) {
  EXPECT_EQ(answered("/ok/x", "fs-trace", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"),
            "200");
  EXPECT_EQ(fieldsOf("request_completed", "fs-trace"), kCompleted);
  EXPECT_EQ(valueOf("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(valueOf("parent_span_id"), "00f067aa0ba902b7");
}

TEST_F(LogFieldSets, CompletedNoRoute404) {
  EXPECT_EQ(answered("/nothing", "fs-404"), "404");
  EXPECT_EQ(fieldsOf("request_completed", "fs-404"), kCompleted);
  EXPECT_EQ(valueOf("upstream_protocol"), "null");  // no upstream was chosen
}

TEST_F(LogFieldSets, CompletedConnectRefused502) {
  EXPECT_EQ(answered("/refused/x", "fs-502"), "502");
  EXPECT_EQ(fieldsOf("request_completed", "fs-502"), kCompleted);
}

TEST_F(LogFieldSets, CancelledClientClosedAwaitingResponse) {
  leftWhileWaiting("/ok/slow", "fs-cancel");
  EXPECT_EQ(fieldsOf("request_cancelled", "fs-cancel"), kCancelled);
  EXPECT_EQ(valueOf("upstream_reset"), "rst");  // cancel_with's default: the connection was reset
}

TEST_F(LogFieldSets, CancelledDeadline504) {
  EXPECT_EQ(answered("/deadline/slow", "fs-deadline"), "504");
  EXPECT_EQ(fieldsOf("request_cancelled", "fs-deadline"), kCancelled);
}

TEST_F(LogFieldSets, ClientGoneWithIgnorePolicy) {
  leftWhileWaiting("/ignore/x", "fs-gone");
  EXPECT_EQ(fieldsOf("client_gone", "fs-gone"), kClientGone);
  EXPECT_EQ(valueOf("upstream_reset"), "null");  // the upstream ran on and finished: nothing was sent
}

}  // namespace
}  // namespace tether::testing
