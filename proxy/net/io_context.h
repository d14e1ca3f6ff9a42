#pragma once

// What a worker's transports share: spare buffers with the read scratch, the flush queue, and (TLS) the sweep that
// frees idle connections' record buffers.

#include "net/buffer_pool.h"
#include "net/flush_queue.h"
#include "net/idle_sweep.h"

namespace tether::net {

struct IoContext {
  explicit IoContext(event_base* base) : flushes(base), idle(base) {}

  BufferPool buffers;
  FlushQueue flushes;
  IdleSweep idle;
};

}  // namespace tether::net
