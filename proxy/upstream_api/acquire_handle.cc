#include "upstream_api/acquire_handle.h"

#include "upstream_api/upstream_source.h"

namespace tether::upstream {

AcquireHandle::AcquireHandle(AcquireHandle&& other) noexcept
    : source_(other.source_), requester_(other.requester_), serial_(other.serial_) {
  other.requester_ = nullptr;
}

AcquireHandle& AcquireHandle::operator=(AcquireHandle&& other) noexcept {
  if (this != &other) {
    cancel();
    source_ = other.source_;
    requester_ = other.requester_;
    serial_ = other.serial_;
    other.requester_ = nullptr;
  }
  return *this;
}

bool AcquireHandle::pending() const { return current() && source_->pending(*requester_); }

bool AcquireHandle::queued() const { return current() && source_->queued(*requester_); }

void AcquireHandle::cancel() {
  if (pending()) source_->cancel(*requester_);
  requester_ = nullptr;
}

}  // namespace tether::upstream
