#include "net/idle_sweep.h"

namespace tether::net {

IdleSweep::Member::~Member() {
  if (sweep_ != nullptr) sweep_->unlink(*this);
}

IdleSweep::IdleSweep(event_base* base, std::chrono::milliseconds period, size_t max_holding)
    : timer_(evtimer_new(base, &IdleSweep::onTimer, this)), period_(period), max_holding_(max_holding) {}

IdleSweep::~IdleSweep() {
  while (head_ != nullptr) unlink(*head_);
}

void IdleSweep::touch(Member& member) {
  if (member.sweep_ == this) {
    member.generation_ = generation_;
    if (tail_ == &member) return;  // the common case of a busy connection: nothing moves
    unlink(member);
  }
  if (count_ >= max_holding_) {
    // Full: the newcomer frees now, as if the sweep had passed. Evicting the least recently touched instead would,
    // with more connections taking turns than the cap, free every connection's buffers right before its next use.
    member.onIdleSweep();
    return;
  }
  member.generation_ = generation_;
  link(member);
  if (!armed_) {
    armed_ = true;
    const timeval tv = util::toTimeval(period_);
    evtimer_add(timer_.get(), &tv);
  }
}

void IdleSweep::onTimer(evutil_socket_t, short, void* arg) { static_cast<IdleSweep*>(arg)->sweep(); }

void IdleSweep::sweep() {
  armed_ = false;
  // The list is in touch order: everything touched before the previous sweep sits at the front.
  while (head_ != nullptr && head_->generation_ != generation_) {
    Member& idle = *head_;
    unlink(idle);
    idle.onIdleSweep();
  }
  ++generation_;  // whoever is left was touched since the previous sweep: freed next time unless touched again
  if (head_ != nullptr) {
    armed_ = true;
    const timeval tv = util::toTimeval(period_);
    evtimer_add(timer_.get(), &tv);
  }
}

void IdleSweep::link(Member& member) {
  member.sweep_ = this;
  member.prev_ = tail_;
  member.next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = &member;
  } else {
    head_ = &member;
  }
  tail_ = &member;
  ++count_;
}

void IdleSweep::unlink(Member& member) {
  if (member.prev_ != nullptr) {
    member.prev_->next_ = member.next_;
  } else {
    head_ = member.next_;
  }
  if (member.next_ != nullptr) {
    member.next_->prev_ = member.prev_;
  } else {
    tail_ = member.prev_;
  }
  member.prev_ = member.next_ = nullptr;
  member.sweep_ = nullptr;
  --count_;
}

}  // namespace tether::net
