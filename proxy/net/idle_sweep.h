#pragma once

// TLS connections of one worker that hold nothing pending but whose record layer still holds its record buffers
// (OpenSSL's ~17 KiB read and write buffers). Freeing them whenever a connection empties cost a free and a malloc
// of both per keep-alive request (SSL_free_buffers, then the next record allocates them again: ~3k instructions
// per request); instead a connection is touched each time it empties and its buffers are freed only once it
// stayed untouched for a whole sweep period (a sweep timer, armed only while someone is listed). At most
// `max_holding` connections are listed: one that empties while the list is full frees at once (as before), so idle
// connections keep costing what they did and a burst of new connections holds at most `max_holding` sets (~34 KiB
// each) for at most two periods.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "util/intrusive_list.h"
#include "util/libevent.h"

namespace tether::net {

class IdleSweep {
 public:
  // What can be listed; leaves the list when destroyed.
  class Member {
   public:
    // Idle for a sweep period, or evicted over the cap: free what can come back on the next read or write.
    virtual void onIdleSweep() = 0;

   protected:
    Member() = default;
    ~Member();
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;

   private:
    friend class IdleSweep;
    util::ListHook<Member> hook_;
    IdleSweep* sweep_ = nullptr;  // null: not listed
    uint64_t generation_ = 0;     // the sweep generation of the latest touch
  };

  static constexpr std::chrono::milliseconds kDefaultPeriod{200};
  static constexpr size_t kDefaultMaxHolding = 64;

  explicit IdleSweep(event_base* base, std::chrono::milliseconds period = kDefaultPeriod,
                     size_t max_holding = kDefaultMaxHolding);
  IdleSweep(const IdleSweep&) = delete;
  IdleSweep& operator=(const IdleSweep&) = delete;
  ~IdleSweep();

  // `member` emptied just now: (re)listed as the most recently touched; swept at once if the list is full.
  void touch(Member& member);
  size_t holding() const { return count_; }

 private:
  static void onTimer(evutil_socket_t, short, void* arg);
  void sweep();
  void link(Member& member);
  void unlink(Member& member);

  util::EventPtr timer_;
  std::chrono::milliseconds period_;
  size_t max_holding_;
  util::IntrusiveList<Member, &Member::hook_> members_;  // least recently touched first
  size_t count_ = 0;
  uint64_t generation_ = 0;  // sweeps so far
  bool armed_ = false;
};

}  // namespace tether::net
