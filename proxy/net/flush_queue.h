#pragma once

// Connections of one worker whose output was appended to during the current callback. The queue is run when that
// callback returns (SocketTransport's loop entry runs it last), so a response goes out right after the upstream
// read that produced it instead of after every other event of the loop turn: lower latency under load, and write
// buffers live shorter. A fallback event runs the queue when a callback outside any transport (a timer) filled it.

#include "util/intrusive_list.h"
#include "util/libevent.h"

namespace tether::net {

class FlushQueue {
 public:
  // What can be queued; leaves the queue when destroyed.
  class Member {
   public:
    virtual void onQueuedFlush() = 0;

   protected:
    Member() = default;
    ~Member();
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;

   private:
    friend class FlushQueue;
    util::ListHook<Member> hook_;
    FlushQueue* queue_ = nullptr;  // null: not queued
  };

  explicit FlushQueue(event_base* base);
  FlushQueue(const FlushQueue&) = delete;
  FlushQueue& operator=(const FlushQueue&) = delete;
  ~FlushQueue();

  void add(Member& member);  // no-op if already queued
  // Flushes every queued member, in order, including those queued meanwhile.
  void run();

 private:
  static void onEvent(evutil_socket_t, short, void* arg);
  void remove(Member& member);

  util::EventPtr event_;
  util::IntrusiveList<Member, &Member::hook_> members_;
  bool armed_ = false;  // the fallback event is active
  bool running_ = false;
};

}  // namespace tether::net
