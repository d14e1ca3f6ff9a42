#include "net/flush_queue.h"

namespace tether::net {

FlushQueue::Member::~Member() {
  if (queue_ != nullptr) queue_->remove(*this);
}

FlushQueue::FlushQueue(event_base* base) : event_(event_new(base, -1, 0, &FlushQueue::onEvent, this)) {}

FlushQueue::~FlushQueue() {
  while (!members_.empty()) remove(*members_.front());
}

void FlushQueue::add(Member& member) {
  if (member.queue_ != nullptr) return;
  member.queue_ = this;
  members_.pushBack(member);
  if (!armed_ && !running_) {
    armed_ = true;
    event_active(event_.get(), 0, 0);
  }
}

void FlushQueue::remove(Member& member) {
  members_.remove(member);
  member.queue_ = nullptr;
}

void FlushQueue::run() {
  if (running_) return;  // the outer run() picks up what is added meanwhile
  running_ = true;
  while (!members_.empty()) {
    Member& member = *members_.front();
    remove(member);
    member.onQueuedFlush();  // may destroy it, or queue others
  }
  running_ = false;
}

void FlushQueue::onEvent(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<FlushQueue*>(arg);
  self->armed_ = false;
  self->run();
}

}  // namespace tether::net
