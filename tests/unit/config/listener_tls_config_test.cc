// listeners[].tls: certificate and key, session tickets (on by default, keys rotated every ticket_rotation, at
// least 1s), and errors with the key's file:line:column. The files themselves are loaded later (tls_files.cc).

#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  ASSERT_EQ(tls.certificates.size(), 1u);
  EXPECT_EQ(tls.certificates[0].cert, "c.pem");
  EXPECT_EQ(tls.certificates[0].key, "k.pem");
  EXPECT_TRUE(tls.certificates[0].server_names.empty());
  EXPECT_EQ(tls.certificates[0].key_path, "listeners[0].tls");
  EXPECT_EQ(tls.certificates[0].line, 4);
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

// Column (1-based) of `needle` in the listener's `tls:` line as configWith writes it.
int columnOf(const std::string& tls, const std::string& needle) {
  return static_cast<int>(("    tls: " + tls).find(needle)) + 1;
}

TEST(ListenerTlsConfig, CertificatesAreReadInOrderWithTheirNamesLowercased) {
  const std::string tls =
      "{certificates: [{cert: a.pem, key: a.key, server_names: [API.Example.com, \"*.example.org\"]}, "
      "{cert: b.pem, key: b.key}]}";
  const LoadResult result = loadConfigString(configWith(tls), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const auto& certificates = result.config->listeners[0].tls->certificates;
  ASSERT_EQ(certificates.size(), 2u);
  EXPECT_EQ(certificates[0].cert, "a.pem");
  EXPECT_EQ(certificates[0].server_names, (std::vector<std::string>{"api.example.com", "*.example.org"}));
  EXPECT_EQ(certificates[1].key, "b.key");
  EXPECT_TRUE(certificates[1].server_names.empty()) << "the certificate's own names";
  EXPECT_EQ(certificates[1].key_path, "listeners[0].tls.certificates[1]");
  EXPECT_EQ(certificates[1].line, 4);
  EXPECT_EQ(certificates[1].column, columnOf(tls, "{cert: b.pem"));
}

TEST(ListenerTlsConfig, CertAndKeyNextToCertificatesAreErrors) {
  const std::string tls = "{cert: c.pem, key: k.pem, certificates: [{cert: a.pem, key: a.key}]}";
  const LoadResult result = loadConfigString(configWith(tls), "test.yaml");
  ASSERT_EQ(result.errors.size(), 2u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "listeners[0].tls.cert");
  EXPECT_EQ(result.errors[0].column, columnOf(tls, "c.pem"));
  EXPECT_NE(result.errors[0].message.find("either `cert` and `key` or `certificates`"), std::string::npos);
  EXPECT_EQ(result.errors[1].key_path, "listeners[0].tls.key");
}

TEST(ListenerTlsConfig, AnEmptyCertificatesListIsAnError) {
  const LoadResult result = loadConfigString(configWith("{certificates: []}"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "listeners[0].tls.certificates");
  EXPECT_NE(result.errors[0].message.find("at least one"), std::string::npos);
}

TEST(ListenerTlsConfig, AnInvalidServerNameIsAnErrorAtTheName) {
  const std::string tls = "{certificates: [{cert: a.pem, key: a.key, server_names: [ok.example, \"a.*.b\"]}]}";
  const LoadResult result = loadConfigString(configWith(tls), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.key_path, "listeners[0].tls.certificates[0].server_names[1]");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, columnOf(tls, "\"a.*.b\""));
  EXPECT_NE(e.message.find("invalid server name 'a.*.b'"), std::string::npos) << e.message;
}

TEST(ListenerTlsConfig, ACertificateNeedsCertAndKey) {
  const LoadResult result =
      loadConfigString(configWith("{certificates: [{cert: a.pem, key: a.key}, {cert: b.pem}]}"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "listeners[0].tls.certificates[1].key");
  EXPECT_NE(result.errors[0].message.find("missing required key 'key'"), std::string::npos);
}

}  // namespace
}  // namespace tether::config
