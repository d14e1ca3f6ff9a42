// gRPC on Kestrel behind tether (examples/grpc-dotnet): the .NET client calls through tether's h2c listener, tether
// reaches Kestrel over an h2c upstream. When the client gives up (its deadline, its cancel), the proof is on both
// sides: Kestrel's ServerCallContext.CancellationToken fired for that call (the server prints `cancelled`), and
// tether wrote one request_cancelled line; a normal call completes with OK, and the upstream connection that carried
// a cancelled call serves the next one (Kestrel prints its HttpContext.Connection.Id per call).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kWorkPath = "/tether.example.Worker/Work";
constexpr std::string_view kStreamPath = "/tether.example.Worker/Stream";

// Why the .NET apps cannot run here, or empty when they can.
std::string dotnetMissing() {
  if (access(TETHER_DOTNET, X_OK) != 0) return "dotnet not found at configure time";
  for (const char* dll : {TETHER_GRPC_DOTNET_SERVER, TETHER_GRPC_DOTNET_CLIENT}) {
    if (access(dll, R_OK) != 0) return std::string("not built: ") + dll;
  }
  return {};
}

#define REQUIRE_DOTNET() TETHER_REQUIRE_RUNTIME(dotnetMissing())

// The text after `key` up to the next space in the first line of `output` that starts with `line_prefix`.
std::optional<std::string> fieldOfLine(const std::string& output, std::string_view line_prefix, std::string_view key) {
  size_t line = output.find(line_prefix);
  while (line != std::string::npos && line != 0 && output[line - 1] != '\n') {
    line = output.find(line_prefix, line + 1);
  }
  if (line == std::string::npos) return std::nullopt;
  const size_t end = output.find('\n', line);
  const std::string text = output.substr(line, end == std::string::npos ? std::string::npos : end - line);
  const size_t at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  const size_t from = at + key.size();
  return text.substr(from, text.find(' ', from) - from);
}

// examples/grpc-dotnet/server on a free port; returns once it printed `listening`.
class KestrelGrpcServer {
 public:
  explicit KestrelGrpcServer(std::vector<std::string> extra_args = {}) : process_(argv(std::move(extra_args))) {
    if (!process_.waitForOutput("listening http://127.0.0.1:", Process::kDefaultTimeout)) {
      ADD_FAILURE() << "Kestrel did not start:\n" << process_.output();
      return;
    }
    const std::optional<std::string> port = fieldOfLine(process_.output(), "listening ", "http://127.0.0.1:");
    if (port) port_ = static_cast<uint16_t>(std::stoi(*port));
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string output() const { return process_.output(); }
  // Waits for `call <method> <id> <outcome>` (started, cancelled, completed).
  bool waitForCall(std::string_view method, std::string_view id, std::string_view outcome) const {
    return process_.waitForOutput("call " + std::string(method) + " " + std::string(id) + " " + std::string(outcome) +
                                  " ");
  }
  // Kestrel's connection id for that call event: which upstream connection of tether carried it.
  std::optional<std::string> connectionOf(std::string_view method, std::string_view id,
                                          std::string_view outcome) const {
    return fieldOfLine(output(), "call " + std::string(method) + " " + std::string(id) + " " + std::string(outcome),
                       "conn=");
  }

 private:
  static std::vector<std::string> argv(std::vector<std::string> extra_args) {
    std::vector<std::string> args{TETHER_DOTNET, TETHER_GRPC_DOTNET_SERVER, "0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return args;
  }

  Process process_;
  uint16_t port_ = 0;
};

// One run of examples/grpc-dotnet/client: one call through tether, then `status <id> <StatusCode> conn=...`.
class GrpcClientRun {
 public:
  GrpcClientRun(const TetherInstance& tether, std::string_view method, std::string id, int seconds,
                std::vector<std::string> flags = {})
      : id_(std::move(id)), process_(argv(tether, method, id_, seconds, std::move(flags))) {}

  pid_t pid() const { return process_.pid(); }
  // The StatusCode the client observed ("OK", "Cancelled", "DeadlineExceeded", ...), once it printed it.
  std::optional<std::string> status() const {
    if (!process_.waitForOutput("status " + id_ + " ")) return std::nullopt;
    return fieldOfLine(process_.output(), "status ", "status " + id_ + " ");
  }
  std::optional<std::string> connection() const {
    if (!process_.waitForOutput("status " + id_ + " ")) return std::nullopt;
    return fieldOfLine(process_.output(), "status ", "conn=");
  }
  bool waitForOutput(std::string_view needle) const { return process_.waitForOutput(needle); }
  std::string output() const { return process_.output(); }

 private:
  static std::vector<std::string> argv(const TetherInstance& tether, std::string_view method, const std::string& id,
                                       int seconds, std::vector<std::string> flags) {
    std::vector<std::string> args{TETHER_DOTNET,
                                  TETHER_GRPC_DOTNET_CLIENT,
                                  "http://127.0.0.1:" + std::to_string(tether.port()),
                                  std::string(method),
                                  id,
                                  std::to_string(seconds)};
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  }

  std::string id_;
  Process process_;
};

TetherOptions h2cUpstream(const KestrelGrpcServer& kestrel) {
  return TetherOptions::proxyTo({kestrel.endpoint()}, {{"protocol", "h2c"}});
}

// The one request_cancelled line for `path`, checked after tether has stopped (every line is written then).
std::optional<JsonValue> onlyCancellation(TetherInstance& tether, std::string_view path) {
  EXPECT_EQ(tether.stop(), 0);
  std::vector<JsonValue> cancelled;
  for (JsonValue& event : tether.logEvents("request_cancelled")) {
    if (event.str("path") == path) cancelled.push_back(std::move(event));
  }
  EXPECT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  if (cancelled.size() != 1) return std::nullopt;
  return cancelled.front();
}

// Work runs for a minute: everything that ends it earlier is the cancellation under test.
constexpr int kLongWorkSeconds = 60;

TEST(GrpcKestrel, ClientDeadlineCancelsTheKestrelCall) {
  REQUIRE_DOTNET();
  // Kestrel drops grpc-timeout, so its own deadline timer cannot end the call: only tether's RST_STREAM can.
  KestrelGrpcServer kestrel({"--ignore-grpc-timeout"});
  TetherInstance tether(h2cUpstream(kestrel));
  // 5 s from the call, not from process start; the first call's JIT in both apps (about a second each on a busy
  // machine) is inside it, and the call must reach Kestrel before the deadline.
  GrpcClientRun client(tether, "Work", "deadline-1", kLongWorkSeconds, {"--deadline-ms", "5000"});

  EXPECT_EQ(client.status(), "DeadlineExceeded") << client.output();
  ASSERT_TRUE(kestrel.waitForCall("Work", "deadline-1", "started")) << kestrel.output();
  EXPECT_TRUE(kestrel.waitForCall("Work", "deadline-1", "cancelled")) << kestrel.output();
  const std::optional<JsonValue> event = onlyCancellation(tether, kWorkPath);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->str("protocol"), "h2c");
  EXPECT_EQ(event->str("phase"), "awaiting_response");
  // The client's RST_STREAM (stream_reset), or tether's own deadline from grpc-timeout once tether reads it: both
  // fire at the same instant.
  const std::string reason = event->str("reason").value_or("");
  EXPECT_TRUE(reason == "stream_reset" || reason == "deadline_exceeded") << reason;
}

TEST(GrpcKestrel, ClientCancelCancelsTheKestrelCall) {
  REQUIRE_DOTNET();
  KestrelGrpcServer kestrel;
  TetherInstance tether(h2cUpstream(kestrel));
  GrpcClientRun client(tether, "Work", "cancel-1", kLongWorkSeconds, {"--cancel-on-sigterm"});
  ASSERT_TRUE(kestrel.waitForCall("Work", "cancel-1", "started")) << kestrel.output() << client.output();

  ASSERT_EQ(kill(client.pid(), SIGTERM), 0);  // the client cancels its CancellationTokenSource
  EXPECT_EQ(client.status(), "Cancelled") << client.output();
  EXPECT_TRUE(kestrel.waitForCall("Work", "cancel-1", "cancelled")) << kestrel.output();
  const std::optional<JsonValue> event = onlyCancellation(tether, kWorkPath);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->str("protocol"), "h2c");
  EXPECT_EQ(event->str("phase"), "awaiting_response");
  EXPECT_EQ(event->str("reason"), "stream_reset");
}

TEST(GrpcKestrel, CancelAfterTheFirstStreamedMessageCancelsTheKestrelCall) {
  REQUIRE_DOTNET();
  KestrelGrpcServer kestrel;
  TetherInstance tether(h2cUpstream(kestrel));
  GrpcClientRun client(tether, "Stream", "stream-1", kLongWorkSeconds, {"--cancel-after-first"});

  EXPECT_TRUE(client.waitForOutput("first stream-1 ")) << client.output();
  EXPECT_EQ(client.status(), "Cancelled") << client.output();
  EXPECT_TRUE(kestrel.waitForCall("Stream", "stream-1", "cancelled")) << kestrel.output();
  const std::optional<JsonValue> event = onlyCancellation(tether, kStreamPath);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->str("phase"), "streaming_response");
  EXPECT_EQ(event->str("reason"), "stream_reset");
}

TEST(GrpcKestrel, NormalCallCompletesWithOkAndCancelsNothing) {
  REQUIRE_DOTNET();
  KestrelGrpcServer kestrel;
  TetherInstance tether(h2cUpstream(kestrel));
  GrpcClientRun client(tether, "Work", "normal-1", 0);

  EXPECT_EQ(client.status(), "OK") << client.output() << kestrel.output() << tether.dumpLog();
  EXPECT_TRUE(kestrel.waitForCall("Work", "normal-1", "completed")) << kestrel.output();
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_EQ(kestrel.output().find(" cancelled "), std::string::npos) << kestrel.output();
}

TEST(GrpcKestrel, TheUpstreamConnectionOfACancelledCallServesTheNextCall) {
  REQUIRE_DOTNET();
  KestrelGrpcServer kestrel;
  TetherInstance tether(h2cUpstream(kestrel));
  GrpcClientRun cancelled(tether, "Work", "cancel-2", kLongWorkSeconds, {"--cancel-on-sigterm"});
  ASSERT_TRUE(kestrel.waitForCall("Work", "cancel-2", "started")) << kestrel.output();
  ASSERT_EQ(kill(cancelled.pid(), SIGTERM), 0);
  ASSERT_TRUE(kestrel.waitForCall("Work", "cancel-2", "cancelled")) << kestrel.output();

  GrpcClientRun next(tether, "Work", "after-cancel", 0);
  EXPECT_EQ(next.status(), "OK") << next.output() << kestrel.output();
  const std::optional<std::string> first_connection = kestrel.connectionOf("Work", "cancel-2", "started");
  ASSERT_TRUE(first_connection) << kestrel.output();
  // The call after the cancel came over the same upstream connection: the cancel reset one stream, not the
  // connection.
  EXPECT_EQ(next.connection(), first_connection) << kestrel.output();
  EXPECT_EQ(kestrel.connectionOf("Work", "after-cancel", "completed"), first_connection) << kestrel.output();
}

// gRPC needs `te: trailers` end to end (Kestrel does not insist, other servers do): tether forwards it to h2 upstreams.
TEST(GrpcKestrel, TeTrailersReachesKestrel) {
  REQUIRE_DOTNET();
  KestrelGrpcServer kestrel;
  TetherInstance tether(h2cUpstream(kestrel));
  GrpcClientRun client(tether, "Work", "te-1", 0);

  EXPECT_EQ(client.status(), "OK") << client.output();
  ASSERT_TRUE(kestrel.waitForCall("Work", "te-1", "started")) << kestrel.output();
  EXPECT_EQ(fieldOfLine(kestrel.output(), "call Work te-1 started", "te="), "trailers") << kestrel.output();
}

}  // namespace
}  // namespace tether::testing
