#include "net/idle_sweep.h"

namespace tether::net {

IdleSweep::Member::~Member() {
  if (sweep_ != nullptr) sweep_->unlink(*this);
}

IdleSweep::IdleSweep(event_base* base, std::chrono::milliseconds period, size_t max_holding)
    : timer_(evtimer_new(base, &IdleSweep::onTimer, this)), period_(period), max_holding_(max_holding) {}

IdleSweep::~IdleSweep() {
  while (!members_.empty()) unlink(*members_.front());
}

void IdleSweep::touch(Member& member) {
  if (member.sweep_ == this) {
    member.generation_ = generation_;
    if (members_.isLast(member)) return;  // the common case of a busy connection: nothing moves
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
  while (!members_.empty() && members_.front()->generation_ != generation_) {
    Member& idle = *members_.front();
    unlink(idle);
    idle.onIdleSweep();
  }
  ++generation_;  // whoever is left was touched since the previous sweep: freed next time unless touched again
  if (!members_.empty()) {
    armed_ = true;
    const timeval tv = util::toTimeval(period_);
    evtimer_add(timer_.get(), &tv);
  }
}

void IdleSweep::link(Member& member) {
  member.sweep_ = this;
  members_.pushBack(member);
  ++count_;
}

void IdleSweep::unlink(Member& member) {
  members_.remove(member);
  member.sweep_ = nullptr;
  --count_;
}

}  // namespace tether::net
