#pragma once

// The pool's FIFO of requesters waiting for a connection slot. Intrusive: the links live in the requesters, so
// push, pop and removal from the middle (a cancelled wait) are O(1) and never allocate.

#include <cstddef>

#include "upstream_api/upstream_requester.h"
#include "util/intrusive_list.h"

namespace tether::upstream {

class WaiterQueue {
 public:
  WaiterQueue() = default;
  WaiterQueue(const WaiterQueue&) = delete;
  WaiterQueue& operator=(const WaiterQueue&) = delete;
  // Unlinks whoever still waits: their handles then read as answered.
  ~WaiterQueue();

  bool empty() const { return list_.empty(); }
  size_t size() const { return size_; }
  // The longest waiting requester; the queue must not be empty.
  UpstreamRequester& front() const { return *list_.front(); }

  // `requester` must not be in any queue.
  void pushBack(UpstreamRequester& requester);
  UpstreamRequester& popFront();
  // `requester` must be in this queue.
  void remove(UpstreamRequester& requester);
  static bool contains(const UpstreamRequester& requester) { return requester.queued_; }

 private:
  util::IntrusiveList<UpstreamRequester, &UpstreamRequester::queue_hook_> list_;
  size_t size_ = 0;
};

}  // namespace tether::upstream
