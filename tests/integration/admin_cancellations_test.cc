// One renderer: the /cancellations entry of a request is the very line the log got for it, field by field and
// byte for byte (ts included), for a cancellation and for a client_gone.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/admin_client.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// The /cancellations entry whose request_id is `id` (there must be exactly one), as raw text and parsed.
JsonValue cancellationsEntry(const TetherInstance& tether, const std::string& id, std::string* body) {
  const auto recent = adminRequest(tether, "/cancellations");
  EXPECT_TRUE(recent);
  if (!recent) return {};
  *body = recent->body;
  std::string error;
  const auto events = parseJson(recent->body, &error);
  EXPECT_TRUE(events) << error;
  if (!events) return {};
  std::vector<JsonValue> found;
  for (const auto& item : events->items) {
    if (item.str("request_id") == id) found.push_back(item);
  }
  EXPECT_EQ(found.size(), 1u) << recent->body;
  return found.empty() ? JsonValue{} : found[0];
}

// Same keys in the same order, each with the same type and value.
void expectSameFields(const JsonValue& logged, const JsonValue& kept) {
  ASSERT_EQ(logged.members.size(), kept.members.size());
  for (size_t i = 0; i < logged.members.size(); ++i) {
    const auto& [key, value] = logged.members[i];
    EXPECT_EQ(key, kept.members[i].first);
    EXPECT_EQ(value.kind, kept.members[i].second.kind) << key;
    EXPECT_EQ(value.text, kept.members[i].second.text) << key;
    EXPECT_EQ(value.boolean, kept.members[i].second.boolean) << key;
  }
}

void expectLogLineIsTheEntry(const TetherInstance& tether, const std::string& event, const std::string& id) {
  const auto logged = tether.waitForLogEvents(event, id, 1, 30s);
  ASSERT_EQ(logged.size(), 1u);
  std::string body;
  const JsonValue kept = cancellationsEntry(tether, id, &body);
  EXPECT_EQ(kept.str("event"), event);
  expectSameFields(logged[0], kept);
  const auto raw = tether.logLinesWith({"\"request_id\":\"" + id + "\"", "\"event\":\"" + event + "\""});
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_NE(body.find(raw[0]), std::string::npos) << "log line not found verbatim in /cancellations:\n"
                                                  << raw[0] << "\n"
                                                  << body;
}

void leaveWhileUpstreamWorks(const TetherInstance& tether, TestUpstream& upstream, const std::string& id) {
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/work", "X-Request-Id: " + id + "\r\n")));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  client.close();
}

TEST(AdminCancellations, CancelledRequestEntryIsItsLogLine) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;  // cancelled long before
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  leaveWhileUpstreamWorks(tether, upstream, "one-renderer-cancelled");
  expectLogLineIsTheEntry(tether, "request_cancelled", "one-renderer-cancelled");
}

TEST(AdminCancellations, ClientGoneEntryIsItsLogLine) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 200ms;  // runs on after the client left, then completes
    return reply;
  });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.routes[0].settings.push_back({"cancellation", "{mode: ignore}"});
  TetherInstance tether(options);
  leaveWhileUpstreamWorks(tether, upstream, "one-renderer-gone");
  expectLogLineIsTheEntry(tether, "client_gone", "one-renderer-gone");
}

}  // namespace
}  // namespace tether::testing
