#pragma once

// Spare empty evbuffers of one worker. A keep-alive connection between requests has nothing buffered, so its
// transport hands its input and output buffers back here and takes them again when bytes come or go: an idle
// connection costs two evbuffer structs less, and a busy one still allocates none per request.

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

 private:
  size_t max_spare_;
  std::vector<util::EvBufferPtr> spares_;
};

}  // namespace tether::net
