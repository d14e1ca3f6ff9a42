#include "http/wire_buffer.h"

#include <cassert>
#include <charconv>
#include <cstring>

namespace tether::http {

WireBuffer::WireBuffer(evbuffer* out, size_t capacity) : out_(out) {
  if (evbuffer_reserve_space(out_, static_cast<ev_ssize_t>(capacity), &vec_, 1) == 1) {
    pos_ = static_cast<char*>(vec_.iov_base);
    end_ = pos_ + capacity;
  }
}

WireBuffer::~WireBuffer() {
  if (!pos_) return;  // the reservation failed (out of memory): nothing was written
  vec_.iov_len = static_cast<size_t>(pos_ - static_cast<char*>(vec_.iov_base));
  evbuffer_commit_space(out_, &vec_, 1);
}

void WireBuffer::put(std::string_view s) {
  assert(pos_ == nullptr || static_cast<size_t>(end_ - pos_) >= s.size());
  if (!pos_ || static_cast<size_t>(end_ - pos_) < s.size()) return;
  std::memcpy(pos_, s.data(), s.size());
  pos_ += s.size();
}

void WireBuffer::put(char c) { put(std::string_view(&c, 1)); }

void WireBuffer::putDecimal(uint64_t n) {
  char digits[kMaxNumberLength];
  const auto result = std::to_chars(digits, digits + sizeof(digits), n);
  put(std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
}

void WireBuffer::putHex(uint64_t n) {
  char digits[kMaxNumberLength];
  const auto result = std::to_chars(digits, digits + sizeof(digits), n, 16);
  put(std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
}

void WireCounter::putDecimal(uint64_t n) {
  do {
    ++size_;
    n /= 10;
  } while (n != 0);
}

}  // namespace tether::http
