#include "http/request_id.h"

#include <algorithm>

#include <random>

namespace tether::http {

bool isValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void putHex(uint64_t word, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[word & 0xf];
    word >>= 4;
  }
}

}  // namespace

RequestIdGenerator::RequestIdGenerator() {
  std::random_device device;
  const auto word = [&device] { return (static_cast<uint64_t>(device()) << 32) | device(); };
  const uint64_t a = word();
  seed(a, word());
}

RequestIdGenerator::RequestIdGenerator(uint64_t seed_value) { seed(seed_value, 0); }

// splitmix64 spreads the seed over the whole state (never all zero, as xoshiro requires).
void RequestIdGenerator::seed(uint64_t a, uint64_t b) {
  state_[0] = splitmix64(a);
  state_[1] = splitmix64(a);
  state_[2] = splitmix64(b);
  state_[3] = splitmix64(b);
}

// xoshiro256** 1.0 (Blackman, Vigna).
uint64_t RequestIdGenerator::nextWord() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

void RequestIdGenerator::next(char out[32]) {
  putHex(nextWord(), out);
  putHex(nextWord(), out + 16);
}

RequestId RequestIdGenerator::next() {
  RequestId id;
  next(id.chars);
  return id;
}

}  // namespace tether::http
