#pragma once

// Request ids: 128 random bits as 32 lowercase hex characters. One generator per worker thread (not thread-safe),
// seeded once from std::random_device; xoshiro256** makes each id a few nanoseconds and no allocation.

#include <cstdint>
#include <string_view>

namespace tether::http {

struct RequestId {
  char chars[32];
  std::string_view view() const { return {chars, sizeof(chars)}; }
};

// A client's X-Request-Id is kept if it is 1-64 visible ASCII characters without quote or backslash (it is
// logged inside JSON strings and echoed in headers); otherwise tether makes a new one.
bool isValidRequestId(std::string_view id);

class RequestIdGenerator {
 public:
  RequestIdGenerator();                        // seeded from std::random_device
  explicit RequestIdGenerator(uint64_t seed);  // a reproducible sequence (tests)

  // Writes 32 lowercase hex characters, no terminating NUL.
  void next(char out[32]);
  RequestId next();

 private:
  void seed(uint64_t a, uint64_t b);
  uint64_t nextWord();

  uint64_t state_[4];
};

}  // namespace tether::http
