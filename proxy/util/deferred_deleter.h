#pragma once

// Deletes objects on the next turn of the event loop, so that nothing is freed while one of its own callbacks is
// still on the stack (the habit of Envoy's deferredDelete).

#include <event2/event.h>

#include <memory>
#include <vector>

#include "util/libevent.h"

namespace tether::util {

class Deletable {
 public:
  virtual ~Deletable() = default;
};

class DeferredDeleter {
 public:
  explicit DeferredDeleter(event_base* base);
  DeferredDeleter(const DeferredDeleter&) = delete;
  DeferredDeleter& operator=(const DeferredDeleter&) = delete;
  ~DeferredDeleter();

  void defer(std::unique_ptr<Deletable> object);
  void flush();  // deletes now; only from a frame that owns none of the objects

 private:
  static void onEvent(evutil_socket_t, short, void* arg);

  EventPtr event_;
  std::vector<std::unique_ptr<Deletable>> pending_;
  std::vector<std::unique_ptr<Deletable>> deleting_;
};

}  // namespace tether::util
