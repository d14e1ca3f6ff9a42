// listeners[].tls: certificate and key, session tickets (on by default, keys rotated every ticket_rotation, at
// least 1s), and errors with the key's file:line:column. The files themselves are loaded later (tls_files.cc).

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"

namespace tether::config {
namespace {

using namespace std::chrono_literals;

// `tls` is the listener's tls value; the listener's map starts on line 2, its `tls:` key on line 4.
std::string configWith(const std::string& tls) {
  return "listeners:\n  - name: main\n    address: 127.0.0.1:8443\n    tls: " + tls +
         "\nupstreams:\n  - {name: api, endpoints: [\"127.0.0.1:5000\"]}\n"
         "routes:\n  - {name: all, match: {path_prefix: /}, upstream: api}\n";
}

std::string describe(const LoadResult& result) {
  std::string out;
  for (const ConfigError& e : result.errors) out += "\n  " + e.toString();
  return out;
}

TEST(ListenerTlsConfig, TicketsAreOnAndRotateHourlyByDefault) {
  const LoadResult result = loadConfigString(configWith("{cert: c.pem, key: k.pem}"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const ListenerTls& tls = *result.config->listeners[0].tls;
  EXPECT_EQ(tls.cert, "c.pem");
  EXPECT_EQ(tls.key, "k.pem");
  EXPECT_TRUE(tls.session_tickets);
  EXPECT_EQ(tls.ticket_rotation, 1h);
}

TEST(ListenerTlsConfig, TicketKeysAreRead) {
  const LoadResult result = loadConfigString(
      configWith("{cert: c.pem, key: k.pem, session_tickets: false, ticket_rotation: 10m}"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const ListenerTls& tls = *result.config->listeners[0].tls;
  EXPECT_FALSE(tls.session_tickets);
  EXPECT_EQ(tls.ticket_rotation, 10min);
}

TEST(ListenerTlsConfig, ARotationUnderOneSecondIsAnErrorAtItsValue) {
  const LoadResult result =
      loadConfigString(configWith("{cert: c.pem, key: k.pem, ticket_rotation: 500ms}"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.key_path, "listeners[0].tls.ticket_rotation");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 53);
  EXPECT_NE(e.message.find("at least 1000ms"), std::string::npos) << e.message;
}

TEST(ListenerTlsConfig, SessionTicketsMustBeABoolean) {
  const LoadResult result =
      loadConfigString(configWith("{cert: c.pem, key: k.pem, session_tickets: sometimes}"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "listeners[0].tls.session_tickets");
  EXPECT_EQ(result.errors[0].line, 4);
}

}  // namespace
}  // namespace tether::config
