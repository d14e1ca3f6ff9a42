#pragma once

// Where every worker's session ticket keys come from: one random seed and one start time, made once per process
// (Server::start) and copied into each worker, which derives its keys from it alone (TicketKeyRing). Every worker
// thus computes the same key for the same period without sharing anything mutable, so a ticket one worker issued
// resumes on any other, with no lock on the handshake path.

#include <array>
#include <chrono>
#include <cstdint>

namespace tether::tls {

struct TicketKeySchedule {
  using Clock = std::chrono::steady_clock;

  std::array<uint8_t, 32> seed{};  // the secret of period 0; wiped by whoever holds a copy once it is used
  Clock::time_point start;         // period 0 begins here

  // A new random seed starting now; throws std::runtime_error if the random generator fails.
  static TicketKeySchedule generate();
  // Overwrites the seed (OPENSSL_cleanse, which the compiler cannot drop).
  void wipe();
};

}  // namespace tether::tls
