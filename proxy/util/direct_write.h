#pragma once

// Writing a bufferevent's queued output right away, for owners that keep EV_WRITE disabled while the socket keeps
// up: libevent would otherwise add EPOLLOUT, wait a loop turn for it and remove it again (two epoll_ctl per
// response). EV_WRITE is enabled only when the socket cannot take everything, and libevent writes the rest.

#include <event2/bufferevent.h>

namespace tether::util {

enum class DirectWrite {
  Drained,  // everything was written
  Partial,  // the socket is full: EV_WRITE is now enabled, the write callback follows as it drains
  Failed,   // EPIPE, ECONNRESET, ...: the peer is gone
  Nothing,  // the output was empty
};

DirectWrite writeQueuedOutput(bufferevent* bev);

}  // namespace tether::util
