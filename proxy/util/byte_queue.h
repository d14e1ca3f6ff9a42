#pragma once

// A FIFO of bytes in one std::string: appended at the back, taken from the front. Small payloads (up to 15 bytes)
// live in the string itself and larger ones in one exact-size allocation, where an evbuffer takes a 1 KiB chain
// (plus the evbuffer) for each stream whatever the size: the per-stream response buffer of an HTTP/2 stream.

#include <cstddef>
#include <cstring>
#include <string>

namespace tether::util {

class ByteQueue {
 public:
  size_t size() const { return data_.size() - head_; }
  bool empty() const { return size() == 0; }

  void append(const char* data, size_t len) {
    // Compacted before growing once the taken prefix is at least as large as what is left: each byte moves at most
    // once more on average, and the string never holds more than twice what is queued.
    if (head_ > 0 && head_ >= size()) {
      data_.erase(0, head_);
      head_ = 0;
    }
    data_.append(data, len);
  }

  // Copies up to `len` bytes from the front into `out` and removes them; returns how many.
  size_t take(char* out, size_t len) {
    const size_t n = len < size() ? len : size();
    std::memcpy(out, data_.data() + head_, n);
    head_ += n;
    if (head_ == data_.size()) {
      data_.clear();
      head_ = 0;
    }
    return n;
  }

 private:
  std::string data_;
  size_t head_ = 0;  // bytes at the front already taken
};

}  // namespace tether::util
