// The ticket key chain alone, on a clock the test moves: every worker's ring derives the same keys from one
// schedule, a key opens tickets for its own period and the next (then asks for renewal), and none after.
#include "tls/ticket_key_ring.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <memory>

namespace tether::tls {
namespace {

using namespace std::chrono_literals;
using Name = std::array<unsigned char, TicketKeyRing::kNameBytes>;

// A clock the test sets; the ring reads it through the injected function.
struct FakeClock {
  TicketKeyRing::Clock::time_point now = TicketKeyRing::Clock::time_point(100h);
  TicketKeyRing::Now reader() {
    return [this] { return now; };
  }
};

struct Contexts {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> cipher{EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free};
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac_type{EVP_MAC_fetch(nullptr, "HMAC", nullptr), &EVP_MAC_free};
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> mac{EVP_MAC_CTX_new(mac_type.get()), &EVP_MAC_CTX_free};
};

Name seal(TicketKeyRing& ring) {
  Contexts c;
  Name name{};
  unsigned char iv[EVP_MAX_IV_LENGTH];
  EXPECT_TRUE(ring.seal(name.data(), iv, c.cipher.get(), c.mac.get()));
  return name;
}

int open(TicketKeyRing& ring, const Name& name) {
  Contexts c;
  unsigned char iv[EVP_MAX_IV_LENGTH] = {};
  return ring.open(name.data(), iv, c.cipher.get(), c.mac.get());
}

TicketKeySchedule scheduleAt(const FakeClock& clock) {
  TicketKeySchedule schedule = TicketKeySchedule::generate();
  schedule.start = clock.now;
  return schedule;
}

TEST(TicketKeyRing, TwoWorkersFromOneScheduleOpenEachOthersTickets) {
  FakeClock clock;
  const TicketKeySchedule schedule = scheduleAt(clock);
  TicketKeyRing a(schedule, "public", 1h, clock.reader());
  TicketKeyRing b(schedule, "public", 1h, clock.reader());
  EXPECT_EQ(open(b, seal(a)), 1);
  EXPECT_EQ(open(a, seal(b)), 1);
  EXPECT_EQ(seal(a), seal(b));
}

TEST(TicketKeyRing, ATicketOpensInItsPeriodAndTheNextWithRenewalAndNotAfter) {
  FakeClock clock;
  TicketKeyRing ring(scheduleAt(clock), "public", 1h, clock.reader());
  const Name first = seal(ring);
  EXPECT_EQ(ring.epoch(), 0u);
  clock.now += 59min;
  EXPECT_EQ(open(ring, first), 1);
  EXPECT_EQ(seal(ring), first);

  clock.now += 2min;  // period 1
  EXPECT_EQ(ring.epoch(), 1u);
  EXPECT_EQ(open(ring, first), 2) << "the previous period's key opens it and asks for a new ticket";
  const Name second = seal(ring);
  EXPECT_NE(second, first);
  EXPECT_EQ(open(ring, second), 1);

  clock.now += 1h;  // period 2
  EXPECT_EQ(open(ring, first), 0) << "two periods old: unknown, a full handshake";
  EXPECT_EQ(open(ring, second), 2);
}

TEST(TicketKeyRing, AWorkerThatSkippedPeriodsDerivesTheSameKeysAsOneThatDidNot) {
  FakeClock clock;
  const TicketKeySchedule schedule = scheduleAt(clock);
  TicketKeyRing busy(schedule, "public", 1s, clock.reader());
  TicketKeyRing idle(schedule, "public", 1s, clock.reader());
  Name previous{};
  for (int period = 0; period < 5; ++period) {
    previous = seal(busy);
    clock.now += 1s;
  }
  // idle last moved at period 0; now at period 5 its previous key must be period 4's.
  EXPECT_EQ(idle.epoch(), 5u);
  EXPECT_EQ(seal(idle), seal(busy));
  EXPECT_EQ(open(idle, previous), 2);
}

TEST(TicketKeyRing, ListenersAndProcessesHaveChainsOfTheirOwn) {
  FakeClock clock;
  const TicketKeySchedule schedule = scheduleAt(clock);
  TicketKeyRing main(schedule, "main", 1h, clock.reader());
  TicketKeyRing other(schedule, "other", 1h, clock.reader());
  TicketKeyRing restarted(scheduleAt(clock), "main", 1h, clock.reader());
  const Name ticket = seal(main);
  EXPECT_EQ(open(other, ticket), 0);
  EXPECT_EQ(open(restarted, ticket), 0);
}

TEST(TicketKeyRing, TheSessionLifetimeIsTwoPeriods) {
  FakeClock clock;
  EXPECT_EQ(TicketKeyRing(scheduleAt(clock), "l", 1h, clock.reader()).sessionLifetime(), 2h);
  EXPECT_EQ(TicketKeyRing(scheduleAt(clock), "l", 1s, clock.reader()).sessionLifetime(), 2s);
}

}  // namespace
}  // namespace tether::tls
