// Session resumption on a TLS listener with two workers: every worker derives the same ticket keys from one seed,
// so a ticket any worker issued resumes on either (20 connections, TLS 1.3 and 1.2, and openssl s_client's
// -sess_out/-sess_in); keys rotate (ticket_rotation) and a ticket resumes for one more period, renewed, then no
// more; with session_tickets: false nothing is issued. tether_tls_handshakes_total{resumed} counts both kinds.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "support/admin_client.h"
#include "support/process.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A session's whole ticket as the client holds it ("" without one).
std::string ticketBytes(SSL_SESSION* session) {
  const unsigned char* ticket = nullptr;
  size_t length = 0;
  if (session != nullptr) SSL_SESSION_get0_ticket(session, &ticket, &length);
  return ticket == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(ticket), length);
}

// The key name a ticket was sealed under (its first 16 bytes): it changes when the keys rotate.
std::string ticketName(SSL_SESSION* session) {
  const std::string ticket = ticketBytes(session);
  return ticket.size() < 16 ? "" : ticket.substr(0, 16);
}

struct Visit {
  bool ok = false;
  bool resumed = false;
  std::shared_ptr<SSL_SESSION> session;
  std::string ticket_name;
};

// One connection: handshake (offering `resume`), one request, its whole response (the TLS 1.3 ticket comes first).
Visit visit(uint16_t port, SSL_SESSION* resume = nullptr, int max_version = TLS1_3_VERSION) {
  TlsClient client;
  client.setMaxVersion(max_version);
  client.setSession(resume);
  Visit out;
  if (!client.connect(port, "http/1.1", 30s) || !client.send(getRequest("/"))) return out;
  std::string response;
  while (response.find("\r\n\r\nok") == std::string::npos) {
    const std::string part = client.recvSome(30s);
    if (part.empty()) return out;
    response += part;
  }
  out.ok = response.starts_with("HTTP/1.1 200");
  out.resumed = client.resumed();
  out.session = client.session();
  out.ticket_name = ticketName(out.session.get());
  return out;
}

class TlsResumption : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_.setHandler([](const RecordedRequest&) {
      TestUpstream::Reply reply;
      reply.body = "ok";
      return reply;
    });
    cert_ = makeSelfSignedCertificate(tempDir());
  }
  // Two workers, and `extra` keys (", name: value" pairs) in the listener's tls map. The fixture writes that map as
  // {cert: "<tls_cert>", key: "<tls_key>"}, so they ride in after the key's closing quote, the last value's own
  // closing quote coming from the fixture.
  std::unique_ptr<TetherInstance> start(const std::string& extra = "") {
    auto options = TetherOptions::proxyTo({upstream_.address()}).withWorkers(2);
    options.tls_cert = cert_.cert;
    options.tls_key = cert_.key;
    if (!extra.empty()) options.tls_key += "\"" + extra;
    return std::make_unique<TetherInstance>(options);
  }

  // One full handshake, then 20 connections resuming its session (TLS `version`).
  void twentyConnectionsResume(int version);

  TestUpstream upstream_;
  CertificatePaths cert_;
};

constexpr const char* kResumed = "tether_tls_handshakes_total{resumed=\"true\"}";
constexpr const char* kFull = "tether_tls_handshakes_total{resumed=\"false\"}";

void TlsResumption::twentyConnectionsResume(int version) {
  auto started = start();
  TetherInstance& tether = *started;

  const Visit first = visit(tether.port(), nullptr, version);
  ASSERT_TRUE(first.ok);
  ASSERT_FALSE(first.resumed);
  ASSERT_FALSE(first.ticket_name.empty()) << "a ticket is issued by default";
  // 20 connections from new source ports: SO_REUSEPORT spreads them over both workers (all on one: 2^-19).
  for (int i = 0; i < 20; ++i) {
    const Visit again = visit(tether.port(), first.session.get(), version);
    ASSERT_TRUE(again.ok) << i;
    EXPECT_TRUE(again.resumed) << "connection " << i;
  }
  EXPECT_EQ(waitForSample(tether, kResumed, 20), 20);
  EXPECT_EQ(sampleValue(scrape(tether), kFull), 1);
}

TEST_F(TlsResumption, TwentyConnectionsResumeOneTls13SessionOnEitherWorker) { twentyConnectionsResume(TLS1_3_VERSION); }

TEST_F(TlsResumption, TwentyConnectionsResumeOneTls12SessionOnEitherWorker) { twentyConnectionsResume(TLS1_2_VERSION); }

// openssl s_client, as a user would check it: -sess_out after a full handshake, -sess_in resumes.
// OpenSSL clients use a TLS 1.3 ticket once (wrk, curl): each connection offers the session the one before it ended
// with. Every resumed connection must bring a new ticket, or the next one of such a client is a full handshake.
TEST_F(TlsResumption, EveryTls13ResumptionIssuesANewTicketSoAChainOfConnectionsAllResume) {
  auto started = start();
  TetherInstance& tether = *started;
  Visit last = visit(tether.port());
  ASSERT_TRUE(last.ok);
  ASSERT_FALSE(last.resumed);
  for (int i = 0; i < 10; ++i) {
    const Visit next = visit(tether.port(), last.session.get());
    ASSERT_TRUE(next.ok) << i;
    EXPECT_TRUE(next.resumed) << "connection " << i;
    EXPECT_NE(ticketBytes(next.session.get()), ticketBytes(last.session.get())) << "a new ticket on connection " << i;
    last = next;
  }
  EXPECT_EQ(waitForSample(tether, kResumed, 10), 10);
  EXPECT_EQ(sampleValue(scrape(tether), kFull), 1);
}

TEST_F(TlsResumption, OpensslSessOutThenSessInResumes) {
  auto tether = start();
  const std::string session_file = tempDir() + "/session.pem";
  const auto run = [&](const std::string& session_option) {
    const std::string command =
        "printf 'GET / HTTP/1.1\\r\\nHost: test\\r\\nConnection: close\\r\\n\\r\\n' | /usr/bin/openssl s_client "
        "-connect 127.0.0.1:" +
        std::to_string(tether->port()) + " -servername localhost -ign_eof " + session_option + " " + session_file;
    Process client({"/bin/sh", "-c", command});
    // Its exit code is 1 whatever happened: tether closes after `Connection: close` without close_notify, which
    // s_client reports as an error. What it printed is the evidence.
    EXPECT_TRUE(client.waitExit().has_value()) << client.output();
    client.waitForOutput("\x01");  // a needle never printed: returns once all the output was read
    return client.output();
  };
  const std::string full = run("-sess_out");
  EXPECT_NE(full.find("New, TLSv1.3"), std::string::npos) << full;
  const std::string resumed = run("-sess_in");
  EXPECT_NE(resumed.find("Reused, TLSv1.3"), std::string::npos) << resumed;
  EXPECT_NE(resumed.find("\r\n\r\nok"), std::string::npos) << resumed;
}

TEST_F(TlsResumption, WithSessionTicketsOffNoTicketIsIssuedAndEveryHandshakeIsFull) {
  auto tether = start(", session_tickets: \"false");
  const Visit first = visit(tether->port());
  ASSERT_TRUE(first.ok);
  EXPECT_TRUE(first.ticket_name.empty());
  const Visit again = visit(tether->port(), first.session.get());
  ASSERT_TRUE(again.ok);
  EXPECT_FALSE(again.resumed);
  EXPECT_EQ(waitForSample(*tether, kFull, 2), 2);
  EXPECT_EQ(sampleValue(scrape(*tether), kResumed), 0);
}

// With ticket_rotation: 1s, observed through the key names of fresh tickets (no clock of tether's is read): a
// ticket of period i resumes in period i+1 and is renewed under that period's key, and is refused once a second
// rotation happened. An attempt only counts if it can tell the periods apart on a busy machine: the poll that last
// saw the old name began less than one rotation before the poll that first saw the new one ended (so the new name
// is period i+1, not i+2), and a poll after the resumption still sees the new name (so it happened in i+1).
TEST_F(TlsResumption, ATicketResumesRenewedOneRotationLaterAndIsRefusedAfterTwo) {
  auto tether = start(", ticket_rotation: \"1s");
  bool conclusive = false;
  for (int attempt = 0; attempt < 5 && !conclusive; ++attempt) {
    const auto old_seen = Clock::now();
    const Visit first = visit(tether->port());
    ASSERT_TRUE(first.ok);
    ASSERT_FALSE(first.ticket_name.empty());
    auto last_old_start = old_seen;
    std::string next_name;
    bool tight = false;
    for (const auto give_up = Clock::now() + 30s; next_name.empty() && Clock::now() < give_up;) {
      const auto start = Clock::now();
      const Visit poll = visit(tether->port());
      ASSERT_TRUE(poll.ok);
      if (poll.ticket_name != first.ticket_name) {
        next_name = poll.ticket_name;
        tight = Clock::now() - last_old_start < 1s;
        break;
      }
      last_old_start = start;
      std::this_thread::sleep_for(20ms);  // between polls only
    }
    ASSERT_FALSE(next_name.empty()) << "the keys never rotated";
    const Visit resumed = visit(tether->port(), first.session.get());
    const Visit after = visit(tether->port());
    ASSERT_TRUE(resumed.ok && after.ok);
    if (!tight || after.ticket_name != next_name) continue;  // a stall crossed a boundary: try again
    conclusive = true;
    EXPECT_TRUE(resumed.resumed) << "a ticket of the previous period resumes";
    EXPECT_EQ(resumed.ticket_name, next_name) << "and is replaced by one under the current key";

    // Wait for the next rotation (a name that is neither), then the first ticket is two periods old.
    for (const auto give_up = Clock::now() + 30s; Clock::now() < give_up;) {
      const Visit poll = visit(tether->port());
      ASSERT_TRUE(poll.ok);
      if (poll.ticket_name != first.ticket_name && poll.ticket_name != next_name) break;
      std::this_thread::sleep_for(20ms);  // between polls only
    }
    const Visit refused = visit(tether->port(), first.session.get());
    ASSERT_TRUE(refused.ok) << "an unknown ticket means a full handshake";
    EXPECT_FALSE(refused.resumed);
  }
  EXPECT_TRUE(conclusive) << "five attempts each saw a stall of more than a second";
}

}  // namespace
}  // namespace tether::testing
