#include "http/http1_codec_pool.h"

namespace tether::http {

std::unique_ptr<Http1Codec> Http1CodecPool::acquire(Http1Codec::Kind kind, Http1CodecCallbacks& cb,
                                                    Http1Codec::Limits limits) {
  auto& spares = spares_[index(kind)];
  if (spares.empty()) return std::make_unique<Http1Codec>(kind, cb, limits);
  std::unique_ptr<Http1Codec> codec = std::move(spares.back());
  spares.pop_back();
  codec->reset(cb, limits);
  return codec;
}

void Http1CodecPool::release(std::unique_ptr<Http1Codec> codec) {
  if (!codec) return;
  auto& spares = spares_[index(codec->kind())];
  if (spares.size() < max_spare_) spares.push_back(std::move(codec));
}

}  // namespace tether::http
