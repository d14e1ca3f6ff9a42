#pragma once

// Serializes small pieces straight into one contiguous reservation in an evbuffer: one reservation per message head,
// no std::string temporaries. The caller passes an upper bound of what it will write.

#include <event2/buffer.h>

#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tether::http {

class WireBuffer {
 public:
  WireBuffer(evbuffer* out, size_t capacity);
  ~WireBuffer();  // commits what was written
  WireBuffer(const WireBuffer&) = delete;
  WireBuffer& operator=(const WireBuffer&) = delete;

  // Inline: a head is written as ~50 small pieces.
  void put(std::string_view s) {
    assert(pos_ == nullptr || static_cast<size_t>(end_ - pos_) >= s.size());
    // An empty view may have a null data(), which memcpy must not get even for 0 bytes (UBSan; found by
    // fuzz_http1_response: an unknown status with no reason phrase).
    if (!pos_ || s.empty() || static_cast<size_t>(end_ - pos_) < s.size()) return;
    std::memcpy(pos_, s.data(), s.size());
    pos_ += s.size();
  }
  void put(char c) {
    assert(pos_ == nullptr || end_ != pos_);
    if (!pos_ || end_ == pos_) return;
    *pos_++ = c;
  }
  void putDecimal(uint64_t n) {
    char digits[kMaxNumberLength];
    const auto result = std::to_chars(digits, digits + sizeof(digits), n);
    put(std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
  }
  void putHex(uint64_t n) {
    char digits[kMaxNumberLength];
    const auto result = std::to_chars(digits, digits + sizeof(digits), n, 16);
    put(std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
  }

  static constexpr size_t kMaxNumberLength = 20;  // digits of the largest uint64_t

 private:
  evbuffer* out_;
  evbuffer_iovec vec_{};
  char* pos_ = nullptr;
  char* end_ = nullptr;
};

// Counts what a WireBuffer would receive: lets a writer size its reservation with the same code that fills it.
class WireCounter {
 public:
  void put(std::string_view s) { size_ += s.size(); }
  void put(char) { ++size_; }
  void putDecimal(uint64_t n);
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

}  // namespace tether::http
