#pragma once

// One worker's session ticket keys for one listener: a hash chain from the process's TicketKeySchedule. The key of
// period n+1 is derived from the key of period n (HKDF-SHA256) and the key it came from is wiped, so a key that
// was rotated out cannot be recomputed from what the process still holds (forward secrecy). Every worker derives
// the same chain from the same seed, so tickets resume on any worker with no state shared between threads.
//
// A ticket is sealed with the current period's key and opened with the current or the previous one, so it resumes
// for between one and two periods (sessionLifetime()); opened with the previous key, it is renewed. The chain moves
// on lazily, when a ticket is sealed or opened. Worker thread only.

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "tls/ticket_key_schedule.h"

namespace tether::tls {

class TicketKeyRing {
 public:
  using Clock = TicketKeySchedule::Clock;
  using Now = std::function<Clock::time_point()>;
  static constexpr size_t kNameBytes = 16;  // OpenSSL's key name, the first bytes of every ticket

  // `listener` (its name) starts a chain of its own, so a ticket from one listener is unknown to the others. `now`
  // is the clock (tests move it). Throws std::runtime_error if OpenSSL lacks HKDF or AES-256-CBC.
  TicketKeyRing(const TicketKeySchedule& schedule, std::string_view listener, std::chrono::milliseconds period,
                Now now = &Clock::now);
  ~TicketKeyRing();
  TicketKeyRing(const TicketKeyRing&) = delete;
  TicketKeyRing& operator=(const TicketKeyRing&) = delete;

  // How long a ticket may resume (the session timeout tether gives OpenSSL): two periods.
  std::chrono::seconds sessionLifetime() const;

  // The halves of OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb). seal: names the current
  // key, makes an IV and initialises both contexts; false on failure. open: 1 with the current key, 2 with the
  // previous one (the ticket is renewed), 0 for an unknown name (a full handshake), -1 on failure.
  bool seal(unsigned char name[kNameBytes], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
  int open(const unsigned char name[kNameBytes], const unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);

  // The period the clock is in now (and the chain moved to it); for tests.
  uint64_t epoch();

 private:
  struct Key {
    std::array<unsigned char, kNameBytes> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
  };
  struct KdfFree {
    void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
  };
  struct CipherFree {
    void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
  };

  void advance();
  void ratchet();
  void deriveKey(Key& out);
  void hkdf(const unsigned char* ikm, size_t ikm_len, std::string_view info, unsigned char* out, size_t out_len);
  bool initMac(EVP_MAC_CTX* mac, Key& key);

  std::unique_ptr<EVP_KDF, KdfFree> kdf_;
  std::unique_ptr<EVP_CIPHER, CipherFree> cipher_;
  Clock::time_point start_;
  std::chrono::milliseconds period_;
  Now now_;
  uint64_t epoch_ = 0;
  std::array<unsigned char, 32> secret_{};  // of period epoch_; the only state the chain goes on from
  Key current_;
  Key previous_;
  bool has_previous_ = false;
};

}  // namespace tether::tls
