#pragma once

// Spare Http1Codecs of one worker. A keep-alive connection waiting for its next request needs no parser: it hands
// its codec back here and takes one (with warm header storage) when bytes arrive, so an idle connection costs
// ~0.7 KB less (Http1Codec with its two MessageHeads) and a busy one still allocates nothing per request.

#include <memory>
#include <vector>

#include "http/http1_codec.h"

namespace tether::http {

class Http1CodecPool {
 public:
  // At most `max_spare` codecs of each kind are kept; more are freed on release.
  explicit Http1CodecPool(size_t max_spare = 256) : max_spare_(max_spare) {}

  std::unique_ptr<Http1Codec> acquire(Http1Codec::Kind kind, Http1CodecCallbacks& cb, Http1Codec::Limits limits);
  // The codec must be between messages (nothing of a next message fed yet).
  void release(std::unique_ptr<Http1Codec> codec);
  size_t spare(Http1Codec::Kind kind) const { return spares_[index(kind)].size(); }

 private:
  static size_t index(Http1Codec::Kind kind) { return kind == Http1Codec::Kind::Request ? 0 : 1; }

  size_t max_spare_;
  std::vector<std::unique_ptr<Http1Codec>> spares_[2];
};

}  // namespace tether::http
