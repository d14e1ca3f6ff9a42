#include "util/timeout_list.h"

#include <algorithm>

namespace tether::util {

void TimeoutEntry::cancel() {
  if (list_ != nullptr) list_->unlink(*this);
}

TimeoutList::TimeoutList(event_base* base, Callback on_expired)
    : on_expired_(on_expired), timer_(evtimer_new(base, &TimeoutList::onTimer, this)) {}

TimeoutList::~TimeoutList() {
  while (head_ != nullptr) unlink(*head_);
}

int64_t TimeoutList::nowUs() const {
  // Monotonic (a vDSO read, ~20 ns): a wall clock step must not expire every connection at once.
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TimeoutList::add(TimeoutEntry& entry, std::chrono::milliseconds timeout) {
  entry.cancel();
  entry.list_ = this;
  entry.deadline_us_ = nowUs() + int64_t{timeout.count()} * 1000;
  // Walk back past later deadlines: only after a reload shortened the duration is that more than one step.
  TimeoutEntry* after = tail_;
  while (after != nullptr && after->deadline_us_ > entry.deadline_us_) after = after->prev_;
  entry.prev_ = after;
  entry.next_ = after != nullptr ? after->next_ : head_;
  if (entry.next_ != nullptr) {
    entry.next_->prev_ = &entry;
  } else {
    tail_ = &entry;
  }
  if (after != nullptr) {
    after->next_ = &entry;
  } else {
    head_ = &entry;
  }
  if (armed_for_us_ == 0 || entry.deadline_us_ < armed_for_us_) arm();
}

void TimeoutList::unlink(TimeoutEntry& entry) {
  (entry.prev_ != nullptr ? entry.prev_->next_ : head_) = entry.next_;
  (entry.next_ != nullptr ? entry.next_->prev_ : tail_) = entry.prev_;
  entry.prev_ = entry.next_ = nullptr;
  entry.list_ = nullptr;
  // The timer stays armed: when it fires early it just re-arms for the new head (no event_del per request).
}

void TimeoutList::arm() {
  if (head_ == nullptr) {
    armed_for_us_ = 0;
    evtimer_del(timer_.get());
    return;
  }
  armed_for_us_ = head_->deadline_us_;
  const int64_t wait = std::max<int64_t>(0, armed_for_us_ - nowUs());
  timeval tv{static_cast<time_t>(wait / 1000000), static_cast<suseconds_t>(wait % 1000000)};
  evtimer_add(timer_.get(), &tv);
}

void TimeoutList::onTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<TimeoutList*>(arg);
  self->armed_for_us_ = 0;
  const int64_t now = self->nowUs();
  // One expiry at a time, re-reading the head: a callback may cancel or add other entries.
  while (self->head_ != nullptr && self->head_->deadline_us_ <= now) {
    TimeoutEntry& entry = *self->head_;
    self->unlink(entry);
    self->on_expired_(entry.owner_);
  }
  self->arm();  // for the new head (callbacks may have armed for a later entry)
}

}  // namespace tether::util
