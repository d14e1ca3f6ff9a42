#pragma once

// Shared by the fuzz targets: the first input bytes choose how the rest is cut into reads, so one input also tests
// the codecs' resumption at every byte boundary a socket could produce.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tether::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // One control byte (0 when the input is used up).
  uint8_t take() {
    if (pos_ >= size_) return 0;
    return data_[pos_++];
  }
  // The next read of the rest: 1..`step` bytes, `step` from the control byte taken at construction of the split.
  bool next(size_t step, const uint8_t** chunk, size_t* len) {
    if (pos_ >= size_) return false;
    *chunk = data_ + pos_;
    *len = std::min(size_ - pos_, step);
    pos_ += *len;
    return true;
  }
  // Cut sizes: 0 means "everything in one read"; otherwise 1..64 bytes per read.
  static size_t stepFrom(uint8_t control) { return control % 8 == 0 ? SIZE_MAX : 1 + control % 64; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace tether::fuzz
