#include "net/flush_queue.h"

namespace tether::net {

FlushQueue::Member::~Member() {
  if (queue_ != nullptr) queue_->remove(*this);
}

FlushQueue::FlushQueue(event_base* base) : event_(event_new(base, -1, 0, &FlushQueue::onEvent, this)) {}

FlushQueue::~FlushQueue() {
  while (head_ != nullptr) remove(*head_);
}

void FlushQueue::add(Member& member) {
  if (member.queue_ != nullptr) return;
  member.queue_ = this;
  member.next_ = nullptr;
  member.link_ = tail_;
  *tail_ = &member;
  tail_ = &member.next_;
  if (!armed_ && !running_) {
    armed_ = true;
    event_active(event_.get(), 0, 0);
  }
}

void FlushQueue::remove(Member& member) {
  *member.link_ = member.next_;
  if (member.next_ != nullptr) {
    member.next_->link_ = member.link_;
  } else {
    tail_ = member.link_;
  }
  member.next_ = nullptr;
  member.link_ = nullptr;
  member.queue_ = nullptr;
}

void FlushQueue::run() {
  if (running_) return;  // the outer run() picks up what is added meanwhile
  running_ = true;
  while (head_ != nullptr) {
    Member& member = *head_;
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
