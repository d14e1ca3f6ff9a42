#pragma once

// RAII owners for libevent objects: every libevent allocation in tether is held by one of these.

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <unistd.h>

#include <chrono>
#include <memory>

namespace tether::util {

struct EventBaseFree {
  void operator()(event_base* p) const { event_base_free(p); }
};
struct EventFree {
  void operator()(event* p) const { event_free(p); }
};
struct EvBufferFree {
  void operator()(evbuffer* p) const { evbuffer_free(p); }
};
struct ListenerFree {
  void operator()(evconnlistener* p) const { evconnlistener_free(p); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseFree>;
using EventPtr = std::unique_ptr<event, EventFree>;
using EvBufferPtr = std::unique_ptr<evbuffer, EvBufferFree>;
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerFree>;

// Owns a plain file descriptor (closed on destruction or reset()).
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

inline timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace tether::util
