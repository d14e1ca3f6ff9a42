#pragma once

// Small helpers shared by the benchmark files.

#include <benchmark/benchmark.h>
#include <event2/buffer.h>

#include <cstddef>
#include <string_view>

#include "http/http1_codec.h"

namespace tether::bench {

// Feeds `input` to `codec` the way tether's sessions do: a pause after each message (pipelining) is resumed at
// once and the rest fed. Returns false (and marks the benchmark as failed) on a parse error.
inline bool feedAll(benchmark::State& state, http::Http1Codec& codec, std::string_view input) {
  size_t used = 0;
  while (used < input.size()) {
    if (codec.status() == http::Http1Codec::Status::Paused) codec.resume();
    used += codec.feed(input.data() + used, input.size() - used);
    if (codec.status() == http::Http1Codec::Status::Error) {
      state.SkipWithError(codec.error().message.c_str());
      return false;
    }
  }
  return true;
}

inline void drain(evbuffer* buffer) { evbuffer_drain(buffer, evbuffer_get_length(buffer)); }

}  // namespace tether::bench
