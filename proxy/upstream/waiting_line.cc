#include "upstream/waiting_line.h"

#include <algorithm>

namespace tether::upstream {

WaitingLine::WaitingLine(event_base* base, config::Duration queue_timeout)
    : timer_(evtimer_new(base, &WaitingLine::onTimer, this)), queue_timeout_(queue_timeout) {}

void WaitingLine::add(UpstreamRequester& requester) {
  requester.queued_at_ = std::chrono::steady_clock::now();
  queue_.pushBack(requester);
  if (queue_.size() == 1) arm();
}

void WaitingLine::remove(UpstreamRequester& requester) {
  queue_.remove(requester);  // O(1)
  if (queue_.empty()) evtimer_del(timer_.get());
}

void WaitingLine::expire() {
  const auto now = std::chrono::steady_clock::now();
  // FIFO with one timeout: the waiters due are a prefix of the queue. A callback may change the queue; re-read it.
  while (!queue_.empty() && queue_.front().queued_at_ + queue_timeout_ <= now) {
    queue_.popFront().onUpstreamUnavailable(UpstreamError::QueueTimeout);
  }
  arm();
}

void WaitingLine::arm() {
  if (queue_.empty()) {
    evtimer_del(timer_.get());
    return;
  }
  const auto left = queue_.front().queued_at_ + queue_timeout_ - std::chrono::steady_clock::now();
  const auto micros = std::max<int64_t>(0, std::chrono::ceil<std::chrono::microseconds>(left).count());
  timeval tv{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
  evtimer_add(timer_.get(), &tv);
}

void WaitingLine::onTimer(evutil_socket_t, short, void* arg) { static_cast<WaitingLine*>(arg)->expire(); }

}  // namespace tether::upstream
