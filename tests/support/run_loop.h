#pragma once

// Running an event loop in a test until what it waits for happened.

#include <event2/event.h>

#include <chrono>
#include <thread>

namespace tether::testing {

// Runs `base` until `done` holds (false after 30 s, a bound only a failing test reaches).
template <typename Pred>
bool runLoopUntil(event_base* base, Pred done) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    event_base_loop(base, EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(1ms);  // poll interval
  }
  return true;
}

}  // namespace tether::testing
