// W3C Trace Context through the real binary: `traceparent` and `tracestate` reach every kind of upstream (HTTP/1.1,
// h2c, h2 over TLS) byte for byte, from every kind of client (HTTP/1.1, h2c, h2 over TLS), and the request events
// (request_completed, request_cancelled, the /cancellations entry) carry the incoming ids as trace_id and
// parent_span_id. Invalid fields (uppercase, version ff, zero ids, two traceparent fields, ...) are forwarded just
// the same and logged as null: tether reads the trace, it never rewrites it.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/h2_test_upstream.h"
#include "support/protocol_matrix.h"
#include "support/test_env.h"
#include "support/test_pki.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_front.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Hold = H2TestUpstream::Reply::Hold;

constexpr auto kBound = 30s;  // only a failing test waits this long

// The spec's own example (W3C Trace Context, 3.2.2.x) with a vendor's tracestate.
constexpr const char* kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParentId = "00f067aa0ba902b7";
const std::string kTraceparent = std::string("00-") + kTraceId + "-" + kParentId + "-01";
constexpr const char* kTracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

enum class UpstreamKind { kHttp1, kH2c, kH2Tls };

const char* name(UpstreamKind kind) {
  switch (kind) {
    case UpstreamKind::kHttp1: return "Http1";
    case UpstreamKind::kH2c: return "H2c";
    case UpstreamKind::kH2Tls: return "H2Tls";
  }
  return "";
}

// One test PKI per process: openssl takes a while per key.
const TestPki& pki() {
  static const TestPki made = makeTestPki(tempDir());
  return made;
}

// The upstream of one kind, recording the fields of every request it gets. /hold never answers (tether's
// cancellation ends it: HTTP/1.1 by the closed connection, HTTP/2 by RST_STREAM); anything else answers "ok".
class RecordingUpstream {
 public:
  explicit RecordingUpstream(UpstreamKind kind) : kind_(kind) {
    h1_.setHandler([](const RecordedRequest& request) {
      TestUpstream::Reply reply;
      if (request.target == "/hold") reply.delay = 60s;  // far longer than the test: cancelled before
      return reply;
    });
    h2_.setHandler([](const H2Request& request) {
      H2TestUpstream::Reply reply;
      if (request.path == "/hold") reply.hold = Hold::kBeforeHeaders;
      reply.body = "ok";
      return reply;
    });
    if (kind == UpstreamKind::kH2Tls) {
      front_ =
          std::make_unique<TlsFront>(h2_.port(), TlsFront::Options{pki().server_cert, pki().server_key, "", {"h2"}});
    }
  }

  TetherOptions options() const {
    switch (kind_) {
      case UpstreamKind::kHttp1: return TetherOptions::proxyTo({h1_.address()});
      case UpstreamKind::kH2c: return TetherOptions::proxyTo({h2_.address()}, {{"protocol", "h2c"}});
      case UpstreamKind::kH2Tls:
        return TetherOptions::proxyTo(
            {front_->address()}, {{"protocol", "h2"}, {"tls", "{ca: \"" + pki().ca + "\", server_name: localhost}"}});
    }
    return {};
  }
  std::string protocol() const {
    return kind_ == UpstreamKind::kHttp1 ? "http1" : kind_ == UpstreamKind::kH2c ? "h2c" : "h2";
  }

  bool waitForRequests(int n) const {
    return kind_ == UpstreamKind::kHttp1 ? h1_.waitForRequests(n, kBound) : h2_.waitForStreams(n, kBound);
  }
  // Every field of the request tether forwarded with this X-Request-Id, in order; empty if none arrived.
  HeaderList fieldsOf(const std::string& request_id) const {
    if (kind_ == UpstreamKind::kHttp1) {
      for (const auto& request : h1_.requests()) {
        if (request.header("x-request-id") == request_id) return request.headers;
      }
    } else {
      for (const auto& stream : h2_.streams()) {
        if (stream.request.header("x-request-id") == request_id) return stream.request.headers;
      }
    }
    return {};
  }

 private:
  UpstreamKind kind_;
  TestUpstream h1_;
  H2TestUpstream h2_;
  std::unique_ptr<TlsFront> front_;
};

// The values of every field called `name` (case-insensitive), in order.
std::vector<std::string> valuesOf(const HeaderList& fields, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [field, value] : fields) {
    if (strcasecmp(field.c_str(), name.c_str()) == 0) values.push_back(value);
  }
  return values;
}

// The line's trace_id and parent_span_id, "null" for a JSON null, "absent" without the key.
std::string fieldText(const JsonValue& line, std::string_view key) {
  const JsonValue* value = line.find(key);
  if (value == nullptr) return "absent";
  return value->isNull() ? "null" : value->text;
}

void expectIds(const JsonValue& line, const std::string& trace_id, const std::string& parent_id) {
  EXPECT_EQ(fieldText(line, "trace_id"), trace_id);
  EXPECT_EQ(fieldText(line, "parent_span_id"), parent_id);
}

struct TraceCase {
  ClientProtocol client;
  UpstreamKind upstream;
};

class TraceContextMatrix : public ::testing::TestWithParam<TraceCase> {
 protected:
  TraceContextMatrix() : upstream_(GetParam().upstream), tether_(forClient(upstream_.options(), GetParam().client)) {}

  HeaderList traceFields(const std::string& id) const {
    return {{"x-request-id", id}, {"traceparent", kTraceparent}, {"tracestate", kTracestate}};
  }

  RecordingUpstream upstream_;
  TetherInstance tether_;
};

TEST_P(TraceContextMatrix, FieldsReachTheUpstreamUnchangedAndTheLineHasTheIds) {
  AnyClient client(GetParam().client);
  ASSERT_TRUE(client.connect(tether_.port()));
  ASSERT_TRUE(client.request("GET", "/ok", traceFields("trace-ok")));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether_.dumpLog();
  EXPECT_EQ(response->status, 200);

  const HeaderList fields = upstream_.fieldsOf("trace-ok");
  EXPECT_EQ(valuesOf(fields, "traceparent"), std::vector<std::string>{kTraceparent});
  EXPECT_EQ(valuesOf(fields, "tracestate"), std::vector<std::string>{kTracestate});
  const auto lines = tether_.waitForLogEvents("request_completed", "trace-ok", 1, kBound);
  ASSERT_EQ(lines.size(), 1u) << tether_.dumpLog();
  expectIds(lines[0], kTraceId, kParentId);
  EXPECT_EQ(lines[0].str("upstream_protocol"), upstream_.protocol());
}

TEST_P(TraceContextMatrix, CancellationLineAndItsAdminEntryHaveTheIds) {
  AnyClient client(GetParam().client);
  ASSERT_TRUE(client.connect(tether_.port()));
  ASSERT_TRUE(client.request("GET", "/hold", traceFields("trace-cancel")));
  ASSERT_TRUE(upstream_.waitForRequests(1)) << tether_.dumpLog();
  EXPECT_EQ(valuesOf(upstream_.fieldsOf("trace-cancel"), "traceparent"), std::vector<std::string>{kTraceparent});
  client.leave(isH2(GetParam().client) ? Leave::kStreamReset : Leave::kFin);

  const auto lines = tether_.waitForLogEvents("request_cancelled", "trace-cancel", 1, kBound);
  ASSERT_EQ(lines.size(), 1u) << tether_.dumpLog();
  expectIds(lines[0], kTraceId, kParentId);
  EXPECT_EQ(lines[0].str("phase"), "awaiting_response");
  // The /cancellations ring keeps the line the log got: the same ids.
  const auto recent = adminRequest(tether_, "/cancellations");
  ASSERT_TRUE(recent);
  std::string error;
  const auto entries = parseJson(recent->body, &error);
  ASSERT_TRUE(entries) << error;
  ASSERT_EQ(entries->items.size(), 1u) << recent->body;
  EXPECT_EQ(entries->items[0].str("request_id"), "trace-cancel");
  expectIds(entries->items[0], kTraceId, kParentId);
}

std::vector<TraceCase> everyPair() {
  std::vector<TraceCase> cases;
  for (ClientProtocol client : matrixProtocols()) {
    for (UpstreamKind upstream : {UpstreamKind::kHttp1, UpstreamKind::kH2c, UpstreamKind::kH2Tls}) {
      cases.push_back({client, upstream});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(ClientToUpstream, TraceContextMatrix, ::testing::ValuesIn(everyPair()),
                         [](const ::testing::TestParamInfo<TraceCase>& param) {
                           return std::string(name(param.param.client)) + "To" + name(param.param.upstream);
                         });

// What one request carries and what its line must say.
struct Shape {
  const char* id;
  std::vector<std::string> traceparents;  // sent in this order, as separate fields
  const char* trace_id;                   // expected; "null" when invalid
  const char* parent_id;
};

std::vector<Shape> shapes() {
  const std::string id = kTraceId;
  const std::string parent = kParentId;
  return {
      {"later-version", {"cc-" + id + "-" + parent + "-01-more-fields"}, kTraceId, kParentId},
      {"uppercase", {"00-" + std::string("4BF92F3577B34DA6A3CE929D0E0E4736") + "-" + parent + "-01"}, "null", "null"},
      {"version-ff", {"ff-" + id + "-" + parent + "-01"}, "null", "null"},
      {"zero-trace-id", {"00-" + std::string(32, '0') + "-" + parent + "-01"}, "null", "null"},
      {"zero-parent-id", {"00-" + id + "-" + std::string(16, '0') + "-01"}, "null", "null"},
      {"version-00-longer", {kTraceparent + "-extra"}, "null", "null"},
      {"short", {kTraceparent.substr(0, 54)}, "null", "null"},
      {"not-a-traceparent", {"hello"}, "null", "null"},
      {"two-fields", {kTraceparent, kTraceparent}, "null", "null"},
      {"none", {}, "null", "null"},
  };
}

// Every shape from an HTTP/1.1 client (which can send any bytes, two fields included) to each kind of upstream.
class TraceContextShapes : public ::testing::TestWithParam<UpstreamKind> {};

TEST_P(TraceContextShapes, InvalidFieldsAreForwardedUnchangedAndLoggedAsNull) {
  RecordingUpstream upstream(GetParam());
  TetherInstance tether(upstream.options());
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  for (const Shape& shape : shapes()) {
    HeaderList fields{{"x-request-id", shape.id}, {"tracestate", kTracestate}};
    for (const auto& value : shape.traceparents) fields.emplace_back("traceparent", value);
    ASSERT_TRUE(client.request("GET", "/ok", fields)) << shape.id;
    const auto response = client.readResponse();
    ASSERT_TRUE(response) << shape.id << "\n" << tether.dumpLog();
    EXPECT_EQ(response->status, 200) << shape.id;
    const HeaderList forwarded = upstream.fieldsOf(shape.id);
    EXPECT_EQ(valuesOf(forwarded, "traceparent"), shape.traceparents) << shape.id;
    EXPECT_EQ(valuesOf(forwarded, "tracestate"), std::vector<std::string>{kTracestate}) << shape.id;
    const auto lines = tether.waitForLogEvents("request_completed", shape.id, 1, kBound);
    ASSERT_EQ(lines.size(), 1u) << shape.id << "\n" << tether.dumpLog();
    EXPECT_EQ(fieldText(lines[0], "trace_id"), shape.trace_id) << shape.id;
    EXPECT_EQ(fieldText(lines[0], "parent_span_id"), shape.parent_id) << shape.id;
  }
}

INSTANTIATE_TEST_SUITE_P(ToUpstream, TraceContextShapes,
                         ::testing::Values(UpstreamKind::kHttp1, UpstreamKind::kH2c, UpstreamKind::kH2Tls),
                         [](const ::testing::TestParamInfo<UpstreamKind>& param) { return name(param.param); });

// A request no route serves is answered by tether itself: its line has the ids all the same.
TEST(TraceContext, NoRoute404LineHasTheIds) {
  TestUpstream upstream;
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()}).addRoute("api", "{path_prefix: /api/}", "backend");
  TetherInstance tether(options);
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/elsewhere", {{"x-request-id", "trace-404"}, {"traceparent", kTraceparent}}));
  const auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  const auto lines = tether.waitForLogEvents("request_completed", "trace-404", 1, kBound);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  expectIds(lines[0], kTraceId, kParentId);
}

}  // namespace
}  // namespace tether::testing
