#pragma once

// What a worker's cleartext transports share: spare buffers with the read scratch, and the flush queue.

#include "net/buffer_pool.h"
#include "net/flush_queue.h"

namespace tether::net {

struct IoContext {
  explicit IoContext(event_base* base) : flushes(base) {}

  BufferPool buffers;
  FlushQueue flushes;
};

}  // namespace tether::net
