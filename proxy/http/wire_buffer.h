#pragma once

// Serializes small pieces straight into one contiguous reservation in an evbuffer: one reservation per message head,
// no std::string temporaries. The caller passes an upper bound of what it will write.

#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether::http {

class WireBuffer {
 public:
  WireBuffer(evbuffer* out, size_t capacity);
  ~WireBuffer();  // commits what was written
  WireBuffer(const WireBuffer&) = delete;
  WireBuffer& operator=(const WireBuffer&) = delete;

  void put(std::string_view s);
  void put(char c);
  void putDecimal(uint64_t n);
  void putHex(uint64_t n);

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
