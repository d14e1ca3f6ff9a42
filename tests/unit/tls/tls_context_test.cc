// A listener's server contexts in real handshakes, client and server in memory (a BIO pair, no socket), on a
// ticket clock the test moves: tickets resume within their window on a "second worker" and are renewed, refused
// after it; no ticket when session_tickets is off; the handshake observer counts full and resumed handshakes.
#include "tls/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>

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
  std::unique_ptr<TlsContext> context;
};

struct Result {
  bool ok = false;
  bool resumed = false;
  SessionPtr session;  // with the ticket the server sent, if any
};

// Handshake, one byte of application data each way (which carries TLS 1.3's NewSessionTicket to the client).
Result handshake(const TlsContext& server_context, SSL_SESSION* resume, int max_version = TLS1_3_VERSION) {
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
  SSL_set_tlsext_host_name(client.get(), "localhost");
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
    tls.cert = paths.cert;
    tls.key = paths.key;
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

INSTANTIATE_TEST_SUITE_P(Versions, TlsContextTickets, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const auto& param_info) { return param_info.param == TLS1_3_VERSION ? "Tls13" : "Tls12"; });

}  // namespace
}  // namespace tether::tls
