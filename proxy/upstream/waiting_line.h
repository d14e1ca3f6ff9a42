#pragma once

// A pool's line of requesters waiting for a connection slot, shared by both pools: a FIFO WaiterQueue in which each
// waits at most queue_timeout, then is answered QueueTimeout. Every waiter waits the same time, so the ones due are a
// prefix of the line and one timer, due when the front waiter is, covers them all. Never allocates.

#include <chrono>
#include <cstddef>

#include "config/config.h"
#include "upstream/waiter_queue.h"
#include "upstream_api/upstream_requester.h"
#include "util/libevent.h"

namespace tether::upstream {

class WaitingLine {
 public:
  WaitingLine(event_base* base, config::Duration queue_timeout);
  WaitingLine(const WaitingLine&) = delete;
  WaitingLine& operator=(const WaitingLine&) = delete;

  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }
  static bool contains(const UpstreamRequester& requester) { return WaiterQueue::contains(requester); }

  // Joins the back of the line from now on; `requester` must not be in any queue.
  void add(UpstreamRequester& requester);
  // Leaves the line (a cancelled wait); `requester` must be in it. The timer, if it was due for this one, re-arms
  // itself when it fires.
  void remove(UpstreamRequester& requester);

  // Serves the line in order while pick() finds an endpoint (>= 0): hand(requester, endpoint) for the front waiter.
  // A callback may change the line; it is re-read each time.
  template <typename Pick, typename Hand>
  void serveInOrder(Pick&& pick, Hand&& hand) {
    while (!queue_.empty()) {
      const int endpoint = pick();
      if (endpoint < 0) return;
      hand(queue_.popFront(), static_cast<size_t>(endpoint));
    }
    evtimer_del(timer_.get());
  }

  // Answers QueueTimeout to the waiters queued for queue_timeout or longer, then re-arms for the next one.
  void expire();

 private:
  void arm();
  static void onTimer(evutil_socket_t, short, void* arg);

  WaiterQueue queue_;
  util::EventPtr timer_;
  config::Duration queue_timeout_;
};

}  // namespace tether::upstream
