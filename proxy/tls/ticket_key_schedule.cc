#include "tls/ticket_key_schedule.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace tether::tls {

TicketKeySchedule TicketKeySchedule::generate() {
  TicketKeySchedule schedule;
  if (RAND_priv_bytes(schedule.seed.data(), static_cast<int>(schedule.seed.size())) != 1) {
    throw std::runtime_error("cannot generate a session ticket key seed");
  }
  schedule.start = Clock::now();
  return schedule;
}

void TicketKeySchedule::wipe() { OPENSSL_cleanse(seed.data(), seed.size()); }

}  // namespace tether::tls
