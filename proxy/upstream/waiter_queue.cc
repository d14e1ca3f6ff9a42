#include "upstream/waiter_queue.h"

#include <cassert>

namespace tether::upstream {

WaiterQueue::~WaiterQueue() {
  while (!empty()) popFront();
}

void WaiterQueue::pushBack(UpstreamRequester& requester) {
  assert(!requester.queued_);
  requester.queue_prev_ = tail_;
  requester.queue_next_ = nullptr;
  if (tail_) {
    tail_->queue_next_ = &requester;
  } else {
    head_ = &requester;
  }
  tail_ = &requester;
  requester.queued_ = true;
  ++size_;
}

UpstreamRequester& WaiterQueue::popFront() {
  UpstreamRequester& requester = *head_;
  remove(requester);
  return requester;
}

void WaiterQueue::remove(UpstreamRequester& requester) {
  assert(requester.queued_);
  if (requester.queue_prev_) {
    requester.queue_prev_->queue_next_ = requester.queue_next_;
  } else {
    head_ = requester.queue_next_;
  }
  if (requester.queue_next_) {
    requester.queue_next_->queue_prev_ = requester.queue_prev_;
  } else {
    tail_ = requester.queue_prev_;
  }
  requester.queue_prev_ = nullptr;
  requester.queue_next_ = nullptr;
  requester.queued_ = false;
  --size_;
}

}  // namespace tether::upstream
