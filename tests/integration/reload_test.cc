// SIGHUP reloads the config file. A bad file changes nothing (the error is logged with file:line:column and
// counted); a good one sends new requests to the new routes and upstreams while a request in flight finishes on
// the old ones; startup-only settings (listeners) are reported as needing a restart and keep running as they were.
// TLS listeners' certificates follow a reload (ReloadTls): renewed files at the same paths reach new handshakes while
// open HTTP/1.1 and HTTP/2 connections keep serving, a bad key fails the reload with the old certificate still
// served, tickets resume across it, and certificates chosen by SNI can be added by it.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/h2_test_upstream.h"
#include "support/process.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Rewrites tether's config file and sends SIGHUP; true once the log shows the outcome `event` for the n-th time.
bool reloadWith(TetherInstance& tether, const std::string& text, std::string_view event, size_t n = 1) {
  writeFile(tether.configPath(), text);
  if (kill(tether.pid(), SIGHUP) != 0) return false;
  return tether.waitForLogLineCount({"\"event\":\"" + std::string(event) + "\""}, n, 30s) >= n;
}

TestUpstream::Handler answer(std::string name, std::chrono::milliseconds slow = 0ms) {
  return [name, slow](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    reply.body = name;
    if (request.target == "/slow") reply.delay = slow;
    if (request.target == "/warm") reply.delay = 300ms;  // long enough for two to overlap
    return reply;
  };
}

TEST(Reload, InvalidFileKeepsTheRunningConfigAndLogsWhereTheErrorIs) {
  TestUpstream upstream;
  upstream.setHandler(answer("old"));
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const std::string good = tether.configText();

  // An unknown key on the line after the last one: reported at that line, column 1.
  const size_t bad_line = static_cast<size_t>(std::count(good.begin(), good.end(), '\n')) + 1;
  ASSERT_TRUE(reloadWith(tether, good + "no_such_key: 1\n", "config_reload_failed"));
  const auto failed = tether.logEvents("config_reload_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].str("level"), "error");
  EXPECT_EQ(failed[0].str("file"), tether.configPath());
  EXPECT_EQ(failed[0].integerAt("line"), static_cast<int64_t>(bad_line));
  EXPECT_EQ(failed[0].integerAt("column"), 1);
  EXPECT_EQ(failed[0].str("key"), "no_such_key");
  EXPECT_NE(failed[0].str("message")->find(tether.configPath() + ":" + std::to_string(bad_line) + ":1"),
            std::string::npos);

  // Broken YAML is refused the same way; the old config keeps serving throughout.
  ASSERT_TRUE(reloadWith(tether, "routes: [\n", "config_reload_failed", 2));
  auto response = fetchOnce(tether.port(), "/after-bad-reloads");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "old");
  EXPECT_TRUE(tether.running());

  const std::string text = scrape(tether);
  EXPECT_EQ(sampleValue(text, "tether_config_reloads_total{result=\"failure\"}"), 2) << text;
  EXPECT_EQ(sampleValue(text, "tether_config_reloads_total{result=\"success\"}"), 0) << text;
  EXPECT_EQ(tether.logEvents("config_reloaded").size(), 0u);
}

TEST(Reload, NewRequestsUseTheNewUpstreamWhileARequestInFlightFinishesOnTheOld) {
  // Events, not delays: the two /warm requests are answered once both are at the upstream (so they overlap), and
  // /slow once the test has checked everything that must happen while it is in flight.
  std::promise<void> release_slow;
  std::shared_future<void> slow_released = release_slow.get_future().share();
  TestUpstream old_upstream;
  TestUpstream new_upstream;
  old_upstream.setHandler([&old_upstream, slow_released](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    reply.body = "old";
    if (request.target == "/warm") old_upstream.waitForRequests(2, 60s);
    if (request.target == "/slow") slow_released.wait_for(60s);  // bounded for a failing test
    return reply;
  });
  new_upstream.setHandler(answer("new"));
  TetherOptions before;  // one worker: the idle connection and the slow request share a pool
  before.addUpstream("old", {old_upstream.address()}).addRoute("all", "{path_prefix: /}", "old");
  TetherInstance tether(before);

  // Two overlapping requests leave two idle keep-alive connections in the old pool; /slow will reuse one.
  RawClient warm[2];
  for (auto& client : warm) ASSERT_TRUE(client.connect(tether.port()) && client.send(getRequest("/warm")));
  for (auto& client : warm) {
    auto response = client.readResponse(30s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "old");
  }
  ASSERT_EQ(old_upstream.acceptedConnections(), 2);
  RawClient in_flight;
  ASSERT_TRUE(in_flight.connect(tether.port()));
  ASSERT_TRUE(in_flight.send(getRequest("/slow", "X-Request-Id: reload-in-flight\r\n")));
  ASSERT_TRUE(old_upstream.waitForRequests(3, 30s));  // the two /warm and /slow: the slow one is in flight

  TetherOptions after;
  after.addUpstream("new", {new_upstream.address()}).addRoute("all", "{path_prefix: /}", "new");
  ASSERT_TRUE(reloadWith(tether, TetherInstance::configYaml(after, tether.port(), tether.adminPort(), tether.logPath()),
                         "config_reloaded"));

  // The worker applies the reload on its own thread just after `config_reloaded` is logged; retiring the old
  // snapshot closes the old pool's idle connection at once (though a request still runs on that snapshot), which
  // shows the new config is in place.
  EXPECT_TRUE(old_upstream.waitForConnectionClosed(1, 30s));
  EXPECT_EQ(old_upstream.closedConnections(), 1);
  // New connections go to the new upstream.
  for (int i = 0; i < 6; ++i) {
    auto response = fetchOnce(tether.port(), "/fresh");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "new");
  }
  EXPECT_EQ(old_upstream.requests().size(), 3u);  // /warm twice and /slow

  // The slow request started before the reload completes from the old upstream, not cancelled.
  release_slow.set_value();
  auto slow = in_flight.readResponse(30s);
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 200);
  EXPECT_EQ(slow->body, "old");
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 0u);
  // Its keep-alive client connection is routed by the new config from its next request on...
  ASSERT_TRUE(in_flight.send(getRequest("/next")));
  auto next = in_flight.readResponse(30s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "new");
  // ...and the old pool does not keep its upstream connection once that request ended.
  EXPECT_TRUE(old_upstream.waitForConnectionClosed(2, 30s));

  const std::string text = scrape(tether);
  EXPECT_EQ(sampleValue(text, "tether_config_reloads_total{result=\"success\"}"), 1) << text;
  // Counted by route name over both snapshots: 3 (old) + 6 + 1 (new).
  EXPECT_EQ(waitForSample(tether, "tether_requests_total{route=\"all\",method=\"GET\",code=\"200\"}", 10), 10);
  const auto config = adminRequest(tether, "/config");
  ASSERT_TRUE(config);
  EXPECT_NE(config->body.find(new_upstream.address()), std::string::npos) << config->body;
  EXPECT_EQ(config->body.find(old_upstream.address()), std::string::npos) << config->body;
}

// An upstream's protocol changes with a reload, both ways: the retired pool lets its idle connection go (the
// HTTP/1.1 one closes, the HTTP/2 one drains and closes) and new requests take the new protocol.
TEST(Reload, AnUpstreamSwitchesBetweenHttp1AndH2cAndTheRetiredPoolLetsGo) {
  TestUpstream h1;
  h1.setHandler(answer("h1"));
  H2TestUpstream h2c;
  h2c.setHandler([](const H2Request&) {
    H2TestUpstream::Reply reply;
    reply.body = "h2c";
    return reply;
  });
  auto config = [](const std::string& address, const std::string& protocol) {
    TetherOptions options;  // one worker: one pool per upstream to watch
    options.addUpstream("backend", {address}, {{"protocol", protocol}}).addRoute("all", "{path_prefix: /}", "backend");
    return options;
  };
  TetherInstance tether(config(h1.address(), "http1"));
  auto fetchBody = [&](const char* path) {
    auto response = fetchOnce(tether.port(), path);
    return response ? response->body : std::string("(no response)");
  };
  EXPECT_EQ(fetchBody("/first"), "h1");

  const auto yaml = [&](const TetherOptions& options) {
    return TetherInstance::configYaml(options, tether.port(), tether.adminPort(), tether.logPath());
  };
  ASSERT_TRUE(reloadWith(tether, yaml(config(h2c.address(), "h2c")), "config_reloaded"));
  EXPECT_TRUE(h1.waitForConnectionClosed(1, 30s)) << tether.dumpLog();
  EXPECT_EQ(fetchBody("/second"), "h2c");
  EXPECT_EQ(fetchBody("/third"), "h2c");
  EXPECT_EQ(h2c.acceptedConnections(), 1);  // the two requests shared the HTTP/2 connection

  ASSERT_TRUE(reloadWith(tether, yaml(config(h1.address(), "http1")), "config_reloaded", 2));
  EXPECT_TRUE(h2c.waitForClosedConnections(1, 30s)) << tether.dumpLog();
  EXPECT_EQ(fetchBody("/fourth"), "h1");
  EXPECT_EQ(h2c.requests().size(), 2u);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 0u) << tether.dumpLog();
}

TEST(Reload, ListenerChangesAreReportedAsNeedingARestartAndTheRestIsApplied) {
  TestUpstream first;
  TestUpstream second;
  first.setHandler(answer("first"));
  second.setHandler(answer("second"));
  TetherInstance tether(TetherOptions::proxyTo({first.address()}).withWorkers(2));

  // Same file, but the listener moves to another port and the upstream changes.
  TetherOptions after = TetherOptions::proxyTo({second.address()}).withWorkers(2);
  const uint16_t other_port = static_cast<uint16_t>(tether.port() == 65535 ? 65534 : tether.port() + 1);
  ASSERT_TRUE(reloadWith(tether, TetherInstance::configYaml(after, other_port, tether.adminPort(), tether.logPath()),
                         "config_reloaded"));
  const auto restart = tether.logEvents("config_reload_restart_required");
  ASSERT_EQ(restart.size(), 1u);
  EXPECT_EQ(restart[0].str("level"), "warn");
  EXPECT_NE(restart[0].str("message")->find("listeners"), std::string::npos);

  // Still on the old listener, with the new upstream in every worker. The workers apply a reload on their own
  // threads just after `config_reloaded` is logged, so wait for 8 answers in a row from the new upstream over
  // fresh connections (spread over both workers); a worker that never applied it would keep answering "first".
  int in_a_row = 0;
  std::string last;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (in_a_row < 8 && std::chrono::steady_clock::now() < deadline) {
    auto response = fetchOnce(tether.port(), "/still-here");
    ASSERT_TRUE(response);
    last = response->body;
    in_a_row = last == "second" ? in_a_row + 1 : 0;
  }
  EXPECT_EQ(in_a_row, 8) << "last answer: " << last;
  const auto config = adminRequest(tether, "/config");
  ASSERT_TRUE(config);
  EXPECT_NE(config->body.find("127.0.0.1:" + std::to_string(tether.port())), std::string::npos) << config->body;
}

// ---- TLS listeners: certificates follow a reload ---------------------------------------------------------------

// What a new TLS connection is served: the certificate's serial and common name, for `server_name` (SNI).
struct Served {
  std::string serial;
  std::string common_name;
};
std::optional<Served> served(uint16_t port, const std::string& server_name = "localhost") {
  TlsClient client;
  client.setServerName(server_name);
  if (!client.connect(port, "http/1.1", 30s)) return std::nullopt;
  return Served{client.peerSerial(), client.peerCommonName()};
}

// A certificate's serial number in hex, as TlsClient::peerSerial writes it.
std::string serialHex(const X509* cert) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr),
                                                     &BN_free);
  char* hex = BN_bn2hex(serial.get());
  const std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  return out;
}

// The serial number of the PEM certificate at `cert_path`.
std::string serialOf(const std::string& cert_path) {
  std::unique_ptr<FILE, decltype(&fclose)> file(fopen(cert_path.c_str(), "r"), &fclose);
  if (!file) return "";
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr), &X509_free);
  return cert ? serialHex(cert.get()) : "";
}

// The workers apply a reload on their own threads just after `config_reloaded` is logged: true once 8 new
// connections in a row (spread over the workers by SO_REUSEPORT) were served `serial` for `server_name`.
bool waitUntilServed(uint16_t port, const std::string& serial, const std::string& server_name = "localhost") {
  int in_a_row = 0;
  for (const auto deadline = std::chrono::steady_clock::now() + 30s;
       in_a_row < 8 && std::chrono::steady_clock::now() < deadline;) {
    const auto now_served = served(port, server_name);
    in_a_row = now_served && now_served->serial == serial ? in_a_row + 1 : 0;
  }
  return in_a_row == 8;
}

void replaceFile(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

class ReloadTls : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_.setHandler(answer("ok"));
    cert_ = makeSelfSignedCertificate(tempDir());
    renewed_ = makeSelfSignedCertificate(tempDir());
    auto options = TetherOptions::proxyTo({upstream_.address()}).withWorkers(2);
    options.tls_cert = cert_.cert;
    options.tls_key = cert_.key;
    tether_ = std::make_unique<TetherInstance>(options);
  }
  // The renewed certificate and key, written over the running ones (same paths, same config text).
  void renewInPlace() {
    replaceFile(renewed_.cert, cert_.cert);
    replaceFile(renewed_.key, cert_.key);
  }

  TestUpstream upstream_;
  CertificatePaths cert_;
  CertificatePaths renewed_;
  std::unique_ptr<TetherInstance> tether_;
};

TEST_F(ReloadTls, ARenewedCertificateAtTheSamePathReachesNewHandshakesWhileOpenConnectionsKeepServing) {
  const std::string old_serial = serialOf(cert_.cert);
  const std::string new_serial = serialOf(renewed_.cert);
  ASSERT_NE(old_serial, new_serial);
  const auto before = served(tether_->port());
  ASSERT_TRUE(before);
  EXPECT_EQ(before->serial, old_serial);

  // An HTTP/1.1 keep-alive connection and an HTTP/2 one, opened (and used) on the old certificate.
  AnyClient h1(ClientProtocol::kH1Tls);
  AnyClient h2(ClientProtocol::kH2Tls);
  for (AnyClient* client : {&h1, &h2}) {
    ASSERT_TRUE(client->connect(tether_->port()));
    ASSERT_TRUE(client->request("GET", "/before"));
    const auto response = client->readResponse();
    ASSERT_TRUE(response && response->status == 200);
  }

  renewInPlace();
  ASSERT_TRUE(reloadWith(*tether_, tether_->configText(), "config_reloaded"));
  EXPECT_TRUE(waitUntilServed(tether_->port(), new_serial)) << "the files are read again at unchanged paths";
  EXPECT_TRUE(tether_->logEvents("config_reload_restart_required").empty()) << tether_->dumpLog();

  for (AnyClient* client : {&h1, &h2}) {
    ASSERT_TRUE(client->request("GET", "/after")) << name(client->protocol());
    const auto response = client->readResponse();
    ASSERT_TRUE(response) << name(client->protocol());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "ok");
  }
}

TEST_F(ReloadTls, ABadKeyIsRefusedAtItsLineAndTheRunningCertificateStaysServed) {
  const std::string old_serial = serialOf(cert_.cert);
  writeFile(cert_.key, "not a key\n");
  ASSERT_TRUE(reloadWith(*tether_, tether_->configText(), "config_reload_failed"));
  const auto failed = tether_->logEvents("config_reload_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].str("key"), "listeners[0].tls");
  EXPECT_GT(failed[0].integerAt("line").value_or(0), 0) << "the line of the listener's tls";
  EXPECT_NE(failed[0].str("message")->find("cannot load key " + cert_.key), std::string::npos);
  EXPECT_TRUE(tether_->logEvents("config_reloaded").empty());

  const auto now_served = served(tether_->port());
  ASSERT_TRUE(now_served);
  EXPECT_EQ(now_served->serial, old_serial);
  AnyClient client(ClientProtocol::kH1Tls);
  ASSERT_TRUE(client.connect(tether_->port()));
  ASSERT_TRUE(client.request("GET", "/"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(sampleValue(scrape(*tether_), "tether_config_reloads_total{result=\"failure\"}"), 1);
}

TEST_F(ReloadTls, ATicketFromBeforeTheReloadResumesAfterIt) {
  TlsClient first;
  ASSERT_TRUE(first.connect(tether_->port(), "http/1.1", 30s));
  ASSERT_TRUE(first.send(getRequest("/")));
  ASSERT_FALSE(first.recvSome(30s).empty()) << "the ticket arrives before the response";
  const auto session = first.session();
  ASSERT_EQ(SSL_SESSION_has_ticket(session.get()), 1);

  renewInPlace();
  ASSERT_TRUE(reloadWith(*tether_, tether_->configText(), "config_reloaded"));
  ASSERT_TRUE(waitUntilServed(tether_->port(), serialOf(renewed_.cert)));
  TlsClient again;
  again.setSession(session.get());
  ASSERT_TRUE(again.connect(tether_->port(), "http/1.1", 30s));
  EXPECT_TRUE(again.resumed()) << "the ticket keys do not change with the certificates";
}

// SNI with openssl s_client, as a user checks it: a listener that had one certificate gets two by a reload.
TEST_F(ReloadTls, CertificatesChosenByNameArriveWithAReload) {
  const std::string dir = tempDir();
  const auto make = [&](const std::string& cn, const std::string& san) {
    Process openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", dir + "/" + cn + ".key", "-out", dir + "/" + cn + ".pem", "-days", "2",
                     "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + san});
    EXPECT_EQ(openssl.waitExit(20s), 0) << openssl.output();
    return "{cert: \"" + dir + "/" + cn + ".pem\", key: \"" + dir + "/" + cn + ".key\"}";
  };
  const std::string a = make("a.test", "DNS:a.test");
  const std::string b = make("b.test", "DNS:b.test,DNS:*.b.test");
  std::string text = tether_->configText();
  const size_t tls_at = text.find("    tls: {cert:");
  ASSERT_NE(tls_at, std::string::npos) << text;
  text.replace(tls_at, text.find('\n', tls_at) - tls_at, "    tls: {certificates: [" + a + ", " + b + "]}");
  ASSERT_TRUE(reloadWith(*tether_, text, "config_reloaded"));
  ASSERT_TRUE(waitUntilServed(tether_->port(), serialOf(dir + "/b.test.pem"), "b.test"));
  EXPECT_TRUE(tether_->logEvents("config_reload_restart_required").empty()) << tether_->dumpLog();

  const auto subject = [&](const std::string& servername_option) {
    Process client({"/bin/sh", "-c",
                    "/usr/bin/openssl s_client -connect 127.0.0.1:" + std::to_string(tether_->port()) + " " +
                        servername_option + " </dev/null"});
    EXPECT_TRUE(client.waitExit().has_value()) << client.output();
    client.waitForOutput("\x01");  // a needle never printed: returns once all the output was read
    const std::string out = client.output();
    const size_t at = out.find("subject=CN = ");
    return at == std::string::npos ? out : out.substr(at + 13, out.find('\n', at) - at - 13);
  };
  EXPECT_EQ(subject("-servername a.test"), "a.test");
  EXPECT_EQ(subject("-servername b.test"), "b.test");
  EXPECT_EQ(subject("-servername x.b.test"), "b.test");
  EXPECT_EQ(subject("-servername unknown.test"), "a.test") << "a name no certificate carries: the first";
  EXPECT_EQ(subject("-noservername"), "a.test") << "no SNI: the first";

  // ALPN h2 is still chosen after the switch, and a ticket resumes under the name it was issued for.
  TlsClient h2;
  h2.setServerName("b.test");
  ASSERT_TRUE(h2.connect(tether_->port(), "h2", 30s));
  EXPECT_EQ(h2.alpn(), "h2");
  EXPECT_EQ(h2.peerCommonName(), "b.test");
  TlsClient first;
  first.setServerName("b.test");
  ASSERT_TRUE(first.connect(tether_->port(), "http/1.1", 30s));
  ASSERT_TRUE(first.send(getRequest("/")));
  ASSERT_FALSE(first.recvSome(30s).empty());
  const auto session = first.session();
  TlsClient again;
  again.setServerName("b.test");
  again.setSession(session.get());
  ASSERT_TRUE(again.connect(tether_->port(), "http/1.1", 30s));
  EXPECT_TRUE(again.resumed());
  EXPECT_EQ(again.peerCommonName(), "b.test");
}

// A handshake the server is in the middle of (it answered the ClientHello and waits for the client's Finished)
// when the worker swaps its contexts: it completes on the old certificate and serves the request. The client runs
// on memory BIOs, so the test decides when its Finished leaves.
TEST_F(ReloadTls, AHandshakeUnderWayWhenTheReloadLandsCompletes) {
  const std::string old_serial = serialOf(cert_.cert);
  const Deadline deadline = deadlineAfter(30s);
  const int fd = connectLoopback(tether_->port(), deadline);
  ASSERT_GE(fd, 0);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  SSL_set_connect_state(ssl.get());
  const auto take = [&] {  // what the client wrote so far
    std::string bytes(static_cast<size_t>(BIO_pending(out)), '\0');
    if (!bytes.empty()) BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
    return bytes;
  };
  const auto feed = [&] {  // what the server sent so far (at least one read)
    std::string bytes;
    if (readSome(fd, bytes, -1, deadline) != IoResult::kOk) return false;
    BIO_write(in, bytes.data(), static_cast<int>(bytes.size()));
    return true;
  };

  ASSERT_NE(SSL_do_handshake(ssl.get()), 1);
  ASSERT_EQ(writeAll(fd, take(), -1, deadline), IoResult::kOk) << "the ClientHello";
  while (SSL_do_handshake(ssl.get()) != 1) ASSERT_TRUE(feed()) << "the server's flight up to its Finished";
  const std::string finished = take();  // held back: the server waits for it
  ASSERT_FALSE(finished.empty());

  renewInPlace();
  ASSERT_TRUE(reloadWith(*tether_, tether_->configText(), "config_reloaded"));
  ASSERT_TRUE(waitUntilServed(tether_->port(), serialOf(renewed_.cert))) << "every worker swapped its contexts";

  X509* cert = SSL_get0_peer_certificate(ssl.get());
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(serialHex(cert), old_serial) << "the certificate sent before the reload";
  const std::string request = getRequest("/split");
  ASSERT_EQ(SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())), static_cast<int>(request.size()));
  ASSERT_EQ(writeAll(fd, finished + take(), -1, deadline), IoResult::kOk) << "Finished, then the request";
  std::string response;
  while (response.find("\r\n\r\nok") == std::string::npos) {
    ASSERT_TRUE(feed()) << "the handshake completed on the server and the request is answered: " << response;
    char buf[4096];
    for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
  ::close(fd);
}

}  // namespace
}  // namespace tether::testing
