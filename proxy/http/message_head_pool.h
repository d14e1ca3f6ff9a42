#pragma once

// Spare request heads of one worker, for HTTP/2 streams: a stream takes one when it opens and gives it back when it
// closes, so its header vector and the strings of its fields (kept by MessageHead::clear()) serve the next stream
// instead of being allocated and freed for every request.

#include <cstddef>
#include <utility>
#include <vector>

#include "http/message_head.h"

namespace tether::http {

class MessageHeadPool {
 public:
  // At most `max_spare` heads are kept; more are freed on release.
  explicit MessageHeadPool(size_t max_spare = 256) : max_spare_(max_spare) {}

  // An empty head: a spare one (warm storage) when there is one.
  MessageHead acquire() {
    if (spare_.empty()) return {};
    MessageHead head = std::move(spare_.back());
    spare_.pop_back();
    return head;
  }
  void release(MessageHead&& head) {
    if (spare_.size() >= max_spare_) return;
    head.clear();
    spare_.push_back(std::move(head));
  }
  size_t spare() const { return spare_.size(); }

 private:
  size_t max_spare_;
  std::vector<MessageHead> spare_;
};

}  // namespace tether::http
