#include "util/deferred_deleter.h"

namespace tether::util {

DeferredDeleter::DeferredDeleter(event_base* base) : event_(event_new(base, -1, 0, &DeferredDeleter::onEvent, this)) {}

DeferredDeleter::~DeferredDeleter() { flush(); }

void DeferredDeleter::defer(std::unique_ptr<Deletable> object) {
  if (!object) return;
  if (pending_.empty()) event_active(event_.get(), 0, 0);
  pending_.push_back(std::move(object));
}

void DeferredDeleter::flush() {
  // Destructors may defer more objects; loop until quiet.
  while (!pending_.empty()) {
    deleting_.swap(pending_);
    deleting_.clear();
  }
}

void DeferredDeleter::onEvent(evutil_socket_t, short, void* arg) { static_cast<DeferredDeleter*>(arg)->flush(); }

}  // namespace tether::util
