#include "http/wire_buffer.h"

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

void WireCounter::putDecimal(uint64_t n) {
  do {
    ++size_;
    n /= 10;
  } while (n != 0);
}

}  // namespace tether::http
