// A listener's server contexts in real handshakes, client and server in memory (a BIO pair, no socket), on a
// ticket clock the test moves: tickets resume within their window on a "second worker" and are renewed, refused
// after it; no ticket when session_tickets is off; the handshake observer counts full and resumed handshakes.
#include "tls/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "support/process.h"
#include "support/test_env.h"
#include "support/tls_client.h"

namespace tether::tls {
namespace {

using namespace std::chrono_literals;
using SessionPtr = std::shared_ptr<SSL_SESSION>;

struct FakeClock {
  TicketKeyRing::Clock::time_point now = TicketKeyRing::Clock::time_point(100h);
  TicketKeyRing::Now reader() {
    return [this] { return now; };
  }
};

struct Counts : HandshakeObserver {
  int full = 0;
  int resumed = 0;
  void onHandshakeDone(bool was_resumed) override { ++(was_resumed ? resumed : full); }
};

// One worker's side: its ticket ring, its hooks, and the listener's context built with them.
struct Worker {
  Worker(const TicketKeySchedule& schedule, FakeClock& clock, const config::ListenerTls& tls)
      : ring(schedule, "public", tls.ticket_rotation, clock.reader()), hooks{&ring, &counts} {
    std::string error;
    context = TlsContext::load(tls, "public", &hooks, &error);
    EXPECT_TRUE(context) << error;
  }
  TicketKeyRing ring;
  Counts counts;
  ServerHooks hooks;
  std::shared_ptr<const TlsContext> context;
};

struct Result {
  bool ok = false;
  bool resumed = false;
  SessionPtr session;       // with the ticket the server sent, if any
  std::string common_name;  // of the certificate the server sent
  std::string alpn;
};

struct Offer {
  const char* server_name = "localhost";  // null: no SNI
  const char* alpn = nullptr;             // one protocol, or none
};

// Handshake, one byte of application data each way (which carries TLS 1.3's NewSessionTicket to the client).
Result handshake(const TlsContext& server_context, SSL_SESSION* resume, int max_version = TLS1_3_VERSION,
                 Offer offer = {}) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client_ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  SSL_CTX_set_max_proto_version(client_ctx.get(), max_version);
  std::unique_ptr<SSL, decltype(&SSL_free)> client(SSL_new(client_ctx.get()), &SSL_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> server(server_context.newConnection(), &SSL_free);
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  if (offer.server_name != nullptr) SSL_set_tlsext_host_name(client.get(), offer.server_name);
  if (offer.alpn != nullptr) {
    std::string wire(1, static_cast<char>(std::strlen(offer.alpn)));
    wire += offer.alpn;
    SSL_set_alpn_protos(client.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  if (resume != nullptr) SSL_set_session(client.get(), resume);
  Result result;
  for (int turn = 0; turn < 20 && !(SSL_is_init_finished(client.get()) && SSL_is_init_finished(server.get())); ++turn) {
    SSL_do_handshake(client.get());
    SSL_do_handshake(server.get());
  }
  if (!SSL_is_init_finished(client.get()) || !SSL_is_init_finished(server.get())) return result;
  char byte = 'x';
  if (SSL_write(server.get(), &byte, 1) != 1 || SSL_read(client.get(), &byte, 1) != 1) return result;
  result.ok = true;
  result.resumed = SSL_session_reused(client.get()) == 1;
  if (X509* cert = SSL_get0_peer_certificate(client.get())) {
    char name[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof(name));
    result.common_name = name;
  }
  const unsigned char* alpn = nullptr;
  unsigned alpn_length = 0;
  SSL_get0_alpn_selected(client.get(), &alpn, &alpn_length);
  result.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  // A copy: freeing an SSL that did not shut down marks its own session not resumable.
  result.session.reset(SSL_SESSION_dup(SSL_get0_session(client.get())), &SSL_SESSION_free);
  return result;
}

std::string ticketName(SSL_SESSION* session) {
  const unsigned char* ticket = nullptr;
  size_t length = 0;
  SSL_SESSION_get0_ticket(session, &ticket, &length);
  return length < TicketKeyRing::kNameBytes ? "" : std::string(reinterpret_cast<const char*>(ticket), 16);
}

class TlsContextTickets : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    const auto paths = testing::makeSelfSignedCertificate(testing::tempDir());
    config::ListenerCertificate& certificate = tls.certificates.emplace_back();
    certificate.cert = paths.cert;
    certificate.key = paths.key;
    tls.ticket_rotation = 1h;
    schedule = TicketKeySchedule::generate();
    schedule.start = clock.now;
  }
  int version() const { return GetParam(); }

  FakeClock clock;
  config::ListenerTls tls;
  TicketKeySchedule schedule;
};

TEST_P(TlsContextTickets, ATicketFromOneWorkerResumesOnAnother) {
  Worker first(schedule, clock, tls);
  Worker second(schedule, clock, tls);
  const Result full = handshake(*first.context, nullptr, version());
  ASSERT_TRUE(full.ok);
  EXPECT_FALSE(full.resumed);
  ASSERT_EQ(SSL_SESSION_has_ticket(full.session.get()), 1);
  const Result again = handshake(*second.context, full.session.get(), version());
  ASSERT_TRUE(again.ok);
  EXPECT_TRUE(again.resumed);
  EXPECT_EQ(first.counts.full, 1);
  EXPECT_EQ(second.counts.resumed, 1);
  EXPECT_EQ(second.counts.full, 0);
}

TEST_P(TlsContextTickets, AfterOneRotationTheTicketResumesAndIsRenewedAfterTwoItIsRefused) {
  Worker worker(schedule, clock, tls);
  const Result full = handshake(*worker.context, nullptr, version());
  ASSERT_TRUE(full.ok);
  const std::string old_name = ticketName(full.session.get());

  clock.now += 61min;
  const Result renewed = handshake(*worker.context, full.session.get(), version());
  ASSERT_TRUE(renewed.ok);
  EXPECT_TRUE(renewed.resumed);
  const std::string new_name = ticketName(renewed.session.get());
  EXPECT_FALSE(new_name.empty());
  EXPECT_NE(new_name, old_name) << "a ticket opened with the previous key is replaced by one under the current key";

  clock.now += 1h;
  const Result refused = handshake(*worker.context, full.session.get(), version());
  ASSERT_TRUE(refused.ok) << "an unknown ticket means a full handshake, not a failure";
  EXPECT_FALSE(refused.resumed);
  const Result renewed_one = handshake(*worker.context, renewed.session.get(), version());
  EXPECT_TRUE(renewed_one.resumed);
}

TEST_P(TlsContextTickets, WithSessionTicketsOffNoTicketIsIssuedAndNothingResumes) {
  tls.session_tickets = false;
  Worker worker(schedule, clock, tls);
  const Result full = handshake(*worker.context, nullptr, version());
  ASSERT_TRUE(full.ok);
  EXPECT_EQ(SSL_SESSION_has_ticket(full.session.get()), 0);
  const Result again = handshake(*worker.context, full.session.get(), version());
  ASSERT_TRUE(again.ok);
  EXPECT_FALSE(again.resumed);
  EXPECT_EQ(worker.counts.full, 2);
  EXPECT_EQ(worker.counts.resumed, 0);
}

// A self-signed certificate with common name `cn` and subjectAltName `san` ("" for none), in `dir`.
config::ListenerCertificate makeCertificate(const std::string& dir, const std::string& cn, const std::string& san) {
  config::ListenerCertificate out;
  out.cert = dir + "/" + cn + ".pem";
  out.key = dir + "/" + cn + ".key";
  std::vector<std::string> argv{"/usr/bin/openssl",
                                "req",
                                "-x509",
                                "-newkey",
                                "ec",
                                "-pkeyopt",
                                "ec_paramgen_curve:prime256v1",
                                "-nodes",
                                "-keyout",
                                out.key,
                                "-out",
                                out.cert,
                                "-days",
                                "2",
                                "-subj",
                                "/CN=" + cn};
  if (!san.empty()) {
    argv.push_back("-addext");
    argv.push_back("subjectAltName=" + san);
  }
  testing::Process openssl(argv);
  EXPECT_EQ(openssl.waitExit(std::chrono::seconds(20)), 0) << openssl.output();
  return out;
}

// Three certificates: "first" (SAN first.test), "second" (SAN second.test and *.wild.test), "plain" (no SAN:
// its common name plain.test), and one with names from the config.
class TlsContextSni : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = testing::tempDir();
    tls.certificates.push_back(makeCertificate(dir, "first", "DNS:first.test"));
    tls.certificates.push_back(makeCertificate(dir, "second", "DNS:second.test,DNS:*.wild.test"));
    tls.certificates.push_back(makeCertificate(dir, "plain.test", ""));
    tls.certificates.push_back(makeCertificate(dir, "named", "DNS:ignored.test"));
    tls.certificates.back().server_names = {"configured.test"};
    schedule = TicketKeySchedule::generate();
    schedule.start = clock.now;
  }
  std::string chosen(const char* server_name) {
    Worker worker(schedule, clock, tls);
    const Result result = handshake(*worker.context, nullptr, TLS1_3_VERSION, {.server_name = server_name});
    EXPECT_TRUE(result.ok);
    return result.common_name;
  }

  FakeClock clock;
  config::ListenerTls tls;
  TicketKeySchedule schedule;
};

TEST_F(TlsContextSni, TheNameTheClientSendsPicksTheCertificate) {
  EXPECT_EQ(chosen("first.test"), "first");
  EXPECT_EQ(chosen("second.test"), "second");
  EXPECT_EQ(chosen("SECOND.Test"), "second") << "names compare without case";
  EXPECT_EQ(chosen("a.wild.test"), "second") << "a wildcard matches one label";
  EXPECT_EQ(chosen("plain.test"), "plain.test") << "the common name when there is no subjectAltName";
  EXPECT_EQ(chosen("configured.test"), "named") << "server_names replace the certificate's own names";
  EXPECT_EQ(chosen("ignored.test"), "first");
}

TEST_F(TlsContextSni, AnUnknownOrAbsentNameGetsTheFirstCertificate) {
  EXPECT_EQ(chosen("unknown.test"), "first");
  EXPECT_EQ(chosen("a.b.wild.test"), "first") << "a wildcard does not match two labels";
  EXPECT_EQ(chosen("wild.test"), "first");
  EXPECT_EQ(chosen(nullptr), "first");
}

TEST_F(TlsContextSni, AlpnIsStillChosenAfterTheSwitch) {
  Worker worker(schedule, clock, tls);
  const Result h2 = handshake(*worker.context, nullptr, TLS1_3_VERSION, {.server_name = "second.test", .alpn = "h2"});
  ASSERT_TRUE(h2.ok);
  EXPECT_EQ(h2.common_name, "second");
  EXPECT_EQ(h2.alpn, "h2");
  const Result h1 =
      handshake(*worker.context, nullptr, TLS1_2_VERSION, {.server_name = "second.test", .alpn = "http/1.1"});
  EXPECT_EQ(h1.alpn, "http/1.1");
}

TEST_F(TlsContextSni, ATicketResumesUnderTheNameItWasIssuedFor) {
  Worker worker(schedule, clock, tls);
  for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    const Result full = handshake(*worker.context, nullptr, version, {.server_name = "second.test"});
    ASSERT_TRUE(full.ok);
    const Result again = handshake(*worker.context, full.session.get(), version, {.server_name = "second.test"});
    EXPECT_TRUE(again.resumed) << version;
  }
}

// A reload replaces the worker's context while a connection made from the old one has not yet read its
// ClientHello: the SSL holds what its SNI choice needs.
TEST_F(TlsContextSni, AnSslOutlivesTheContextItWasMadeFrom) {
  Worker worker(schedule, clock, tls);
  std::unique_ptr<SSL, decltype(&SSL_free)> server(worker.context->newConnection(), &SSL_free);
  std::weak_ptr<const TlsContext> old = worker.context;
  worker.context.reset();
  EXPECT_FALSE(old.expired()) << "the SSL keeps its context";
  server.reset();
  EXPECT_TRUE(old.expired()) << "and lets go of it when freed";
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsContextTickets, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const auto& param_info) { return param_info.param == TLS1_3_VERSION ? "Tls13" : "Tls12"; });

}  // namespace
}  // namespace tether::tls
