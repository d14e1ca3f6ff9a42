// Ten streams on one h2c client connection through tether to the Go upstream (`protocol: h2c`), five of them reset
// by the client while Go holds them: Go sees exactly five RST_STREAM(CANCEL) frames, one per reset stream, and five
// cancelled contexts; the other five responses arrive byte-correct; everything used one upstream connection, which
// then still serves a request.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "go_upstream.h"
#include "output_lines.h"
#include "support/h2_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;  // only a failing test waits this long
constexpr int kBodyBytes = 100000;

// What go_h2_upstream's /body/N answers.
std::string goBody(int n) {
  std::string body(static_cast<size_t>(n), '\0');
  for (int i = 0; i < n; ++i) body[static_cast<size_t>(i)] = static_cast<char>('a' + i % 26);
  return body;
}

TEST(GoTenStreams, FiveResetFiveByteCorrectOverOneUpstreamConnection) {
  GoUpstream upstream(GoUpstream::Mode::kCleartext);
  TetherInstance tether(
      TetherOptions::proxyTo({upstream.endpoint()}, {{"protocol", "h2c"}, {"connect_timeout", "5s"}}));
  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));

  // Interleaved: even streams are held by Go until cancelled, odd ones answer at once.
  std::vector<int32_t> held;
  std::vector<int32_t> served;
  for (int i = 0; i < 10; ++i) {
    const std::string index = std::to_string(i);
    if (i % 2 == 0) {
      held.push_back(client.request("GET", "/slow?stream=" + index));
    } else {
      served.push_back(client.request("GET", "/body/" + std::to_string(kBodyBytes) + "?stream=" + index));
    }
  }
  const auto all_closed = [&](const std::vector<int32_t>& ids) {
    return [&client, &ids] {
      for (int32_t id : ids) {
        if (!client.stream(id).closed) return false;
      }
      return true;
    };
  };
  ASSERT_TRUE(client.runUntil(all_closed(served), kBound)) << tether.dumpLog();
  ASSERT_EQ(waitForLinesWith(*upstream.process(), {"request /slow?stream="}, 5, kBound).size(), 5u)
      << upstream.output();

  for (int32_t id : held) client.reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(client.runUntil(all_closed(held), kBound));

  const auto cancelled = waitForLinesWith(*upstream.process(), {"cancelled /slow?stream="}, 5, kBound);
  EXPECT_EQ(cancelled.size(), 5u) << upstream.output();
  const auto resets = waitForLinesWith(*upstream.process(), {"frame RST_STREAM "}, 5, kBound);
  ASSERT_EQ(resets.size(), 5u) << upstream.output();
  std::set<std::string> reset_paths;
  for (const std::string& line : resets) {
    const auto f = fields(line);
    EXPECT_EQ(f.at(5), "CANCEL") << line;
    reset_paths.insert(f.at(4));
  }
  EXPECT_EQ(reset_paths, (std::set<std::string>{"/slow?stream=0", "/slow?stream=2", "/slow?stream=4", "/slow?stream=6",
                                                "/slow?stream=8"}));

  const std::string expected = goBody(kBodyBytes);
  for (int32_t id : served) {
    const H2Client::Stream& stream = client.stream(id);
    EXPECT_EQ(stream.status, 200) << id;
    EXPECT_EQ(stream.error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR)) << id;
    EXPECT_EQ(stream.body.size(), expected.size()) << id;
    EXPECT_TRUE(stream.body == expected) << id;
  }
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", "", 5, kBound).size(), 5u) << tether.dumpLog();

  // The connection that carried all ten still serves.
  const int32_t after = client.request("GET", "/fast?after=resets");
  ASSERT_TRUE(client.waitClosed(after, kBound));
  EXPECT_EQ(client.stream(after).body, "fast /fast?after=resets\n");
  std::set<std::string> connections;
  for (const std::string& line : upstream.lines("request ")) connections.insert(fields(line).at(2));
  EXPECT_EQ(connections.size(), 1u) << upstream.output();
  EXPECT_EQ(upstream.lines("accepted ").size(), 1u) << upstream.output();
  EXPECT_TRUE(upstream.lines("frame GOAWAY ").empty()) << upstream.output();

  tether.stop();  // every line written
  const auto events = tether.logEvents("request_cancelled");
  EXPECT_EQ(events.size(), 5u) << tether.dumpLog();
  for (const JsonValue& event : events) EXPECT_EQ(event.str("reason"), "stream_reset");
  EXPECT_EQ(upstream.lines("cancelled ").size(), 5u) << upstream.output();
  EXPECT_EQ(upstream.lines("frame RST_STREAM ").size(), 5u) << upstream.output();
}

}  // namespace
}  // namespace tether::testing
