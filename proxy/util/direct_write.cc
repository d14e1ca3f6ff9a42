#include "util/direct_write.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include <cerrno>

namespace tether::util {

DirectWrite writeQueuedOutput(bufferevent* bev) {
  evbuffer* out = bufferevent_get_output(bev);
  if (evbuffer_get_length(out) == 0) return DirectWrite::Nothing;
  // A bufferevent keeps the front of its output frozen (only it drains); writing for it, we thaw it as it does.
  evbuffer_unfreeze(out, 1);
  const int written = evbuffer_write(out, bufferevent_getfd(bev));
  const int error = errno;
  evbuffer_freeze(out, 1);
  if (written < 0 && error != EAGAIN && error != EINTR) return DirectWrite::Failed;
  if (evbuffer_get_length(out) == 0) return DirectWrite::Drained;
  bufferevent_enable(bev, EV_WRITE);
  return DirectWrite::Partial;
}

}  // namespace tether::util
