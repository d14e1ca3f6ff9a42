#pragma once

// Timeouts of one duration for many objects (every keep-alive connection's idle timeout, every header read timeout):
// an intrusive list in deadline order and one libevent timer for the whole list, as nginx and HAProxy keep timers in
// one tree instead of one timer object each. Adding appends (the same duration keeps the list sorted), removing
// unlinks, neither touches libevent; the timer is re-armed only when it fires. An entry costs 32 bytes where a
// libevent timer costs 144, on every idle connection.

#include <chrono>
#include <cstdint>

#include "util/libevent.h"

namespace tether::util {

class TimeoutList;

// Embedded in the object that times out; unlinks itself when destroyed.
class TimeoutEntry {
 public:
  explicit TimeoutEntry(void* owner) : owner_(owner) {}
  TimeoutEntry(const TimeoutEntry&) = delete;
  TimeoutEntry& operator=(const TimeoutEntry&) = delete;
  ~TimeoutEntry() { cancel(); }
  bool pending() const { return list_ != nullptr; }
  void cancel();

 private:
  friend class TimeoutList;
  TimeoutEntry* prev_ = nullptr;
  TimeoutEntry* next_ = nullptr;
  TimeoutList* list_ = nullptr;
  int64_t deadline_us_ = 0;
  void* owner_;
};

class TimeoutList {
 public:
  using Callback = void (*)(void* owner);
  TimeoutList(event_base* base, Callback on_expired);
  TimeoutList(const TimeoutList&) = delete;
  TimeoutList& operator=(const TimeoutList&) = delete;
  ~TimeoutList();

  // (Re)starts `entry`'s timeout: it expires `timeout` from now unless cancelled first.
  void add(TimeoutEntry& entry, std::chrono::milliseconds timeout);
  bool empty() const { return head_ == nullptr; }

 private:
  friend class TimeoutEntry;
  static void onTimer(evutil_socket_t, short, void* arg);
  void unlink(TimeoutEntry& entry);
  void arm();
  int64_t nowUs() const;

  Callback on_expired_;
  EventPtr timer_;
  TimeoutEntry* head_ = nullptr;
  TimeoutEntry* tail_ = nullptr;
  int64_t armed_for_us_ = 0;  // deadline the timer is set for; 0: not armed
};

}  // namespace tether::util
