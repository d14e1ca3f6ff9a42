#include "tls/ticket_key_ring.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tether::tls {
namespace {

constexpr std::string_view kSalt = "tether session ticket keys";

}  // namespace

TicketKeyRing::TicketKeyRing(const TicketKeySchedule& schedule, std::string_view listener,
                             std::chrono::milliseconds period, Now now)
    : kdf_(EVP_KDF_fetch(nullptr, "HKDF", nullptr)),
      cipher_(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr)),
      start_(schedule.start),
      period_(std::max(period, std::chrono::milliseconds(1))),
      now_(std::move(now)) {
  if (!kdf_ || !cipher_) throw std::runtime_error("OpenSSL lacks HKDF or AES-256-CBC for session tickets");
  hkdf(schedule.seed.data(), schedule.seed.size(), "listener " + std::string(listener), secret_.data(), secret_.size());
  deriveKey(current_);
}

TicketKeyRing::~TicketKeyRing() {
  OPENSSL_cleanse(secret_.data(), secret_.size());
  OPENSSL_cleanse(&current_, sizeof(current_));
  OPENSSL_cleanse(&previous_, sizeof(previous_));
}

std::chrono::seconds TicketKeyRing::sessionLifetime() const {
  return std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(2 * period_));
}

uint64_t TicketKeyRing::epoch() {
  advance();
  return epoch_;
}

// Moves the chain to the clock's period: the key of the period before it becomes the previous key, every older one
// is gone. A worker idle for many periods walks the chain once per period it missed (one HKDF each).
void TicketKeyRing::advance() {
  const auto now = now_();
  const uint64_t target = now <= start_ ? 0 : static_cast<uint64_t>((now - start_) / period_);
  if (target <= epoch_) return;
  if (target - epoch_ >= 2) {
    while (epoch_ + 1 < target) {
      ratchet();
      ++epoch_;
    }
    deriveKey(current_);  // of target - 1
  }
  previous_ = current_;
  has_previous_ = true;
  ratchet();
  ++epoch_;
  deriveKey(current_);
}

void TicketKeyRing::ratchet() {
  std::array<unsigned char, 32> next{};
  hkdf(secret_.data(), secret_.size(), "next period", next.data(), next.size());
  secret_ = next;
  OPENSSL_cleanse(next.data(), next.size());
}

void TicketKeyRing::deriveKey(Key& out) {
  std::array<unsigned char, kNameBytes + 64> material{};
  hkdf(secret_.data(), secret_.size(), "ticket key", material.data(), material.size());
  std::memcpy(out.name.data(), material.data(), kNameBytes);
  std::memcpy(out.aes.data(), material.data() + kNameBytes, out.aes.size());
  std::memcpy(out.hmac.data(), material.data() + kNameBytes + out.aes.size(), out.hmac.size());
  OPENSSL_cleanse(material.data(), material.size());
}

void TicketKeyRing::hkdf(const unsigned char* ikm, size_t ikm_len, std::string_view info, unsigned char* out,
                         size_t out_len) {
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf_.get());
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(ikm), ikm_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSalt.data()), kSalt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  const bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  // Only an OpenSSL without SHA-256 or out of memory fails here; a key nobody else derives would split the workers.
  if (!ok) throw std::runtime_error("HKDF failed while deriving session ticket keys");
}

bool TicketKeyRing::initMac(EVP_MAC_CTX* mac, Key& key) {
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
                               OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

bool TicketKeyRing::seal(unsigned char name[kNameBytes], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac) {
  advance();
  const int iv_len = EVP_CIPHER_get_iv_length(cipher_.get());
  if (RAND_bytes(iv, iv_len) != 1) return false;
  std::memcpy(name, current_.name.data(), kNameBytes);
  return EVP_EncryptInit_ex2(cipher, cipher_.get(), current_.aes.data(), iv, nullptr) == 1 && initMac(mac, current_);
}

int TicketKeyRing::open(const unsigned char name[kNameBytes], const unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac) {
  advance();
  Key* key = nullptr;
  int found = 0;
  if (std::memcmp(name, current_.name.data(), kNameBytes) == 0) {
    key = &current_;
    found = 1;
  } else if (has_previous_ && std::memcmp(name, previous_.name.data(), kNameBytes) == 0) {
    key = &previous_;
    found = 2;
  }
  if (key == nullptr) return 0;
  if (EVP_DecryptInit_ex2(cipher, cipher_.get(), key->aes.data(), iv, nullptr) != 1 || !initMac(mac, *key)) return -1;
  return found;
}

}  // namespace tether::tls
