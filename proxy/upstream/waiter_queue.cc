#include "upstream/waiter_queue.h"

#include <cassert>

namespace tether::upstream {

WaiterQueue::~WaiterQueue() {
  while (!empty()) popFront();
}

void WaiterQueue::pushBack(UpstreamRequester& requester) {
  assert(!requester.queued_);
  list_.pushBack(requester);
  requester.queued_ = true;
  ++size_;
}

UpstreamRequester& WaiterQueue::popFront() {
  UpstreamRequester& requester = *list_.front();
  remove(requester);
  return requester;
}

void WaiterQueue::remove(UpstreamRequester& requester) {
  assert(requester.queued_);
  list_.remove(requester);
  requester.queued_ = false;
  --size_;
}

}  // namespace tether::upstream
