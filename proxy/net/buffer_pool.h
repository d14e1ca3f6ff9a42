#pragma once

// Spare empty evbuffers of one worker. A keep-alive connection between requests has nothing buffered, so its
// transport hands its input and output buffers back here and takes them again when bytes come or go: an idle
// connection costs two evbuffer structs less, and a busy one still allocates none per request.
// Also the worker's read scratch: reads land there and are appended to the input buffer at their real size, so a
// 200-byte request costs a 1 KiB evbuffer chain (malloc's per-thread cache) instead of a 16 KiB reservation
// whose malloc/free churns the heap (consolidation, bin searches) on every read.

#include <memory>
#include <vector>

#include "util/libevent.h"

namespace tether::net {

class BufferPool {
 public:
  explicit BufferPool(size_t max_spare = 1024) : max_spare_(max_spare) {}

  util::EvBufferPtr acquire() {
    if (spares_.empty()) return util::EvBufferPtr(evbuffer_new());
    util::EvBufferPtr buffer = std::move(spares_.back());
    spares_.pop_back();
    return buffer;
  }
  // `buffer` must be empty (a drained evbuffer holds no chains) and have no callbacks.
  void release(util::EvBufferPtr buffer) {
    if (buffer && spares_.size() < max_spare_) spares_.push_back(std::move(buffer));
  }
  size_t spare() const { return spares_.size(); }
  char* scratch() { return scratch_.get(); }
  static constexpr size_t kScratchSize = 16 * 1024;

 private:
  size_t max_spare_;
  std::vector<util::EvBufferPtr> spares_;
  std::unique_ptr<char[]> scratch_{new char[kScratchSize]};
};

}  // namespace tether::net
