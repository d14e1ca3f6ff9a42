#include "upstream/acquire_handle.h"

#include "upstream/upstream_pool.h"

namespace tether::upstream {

AcquireHandle::AcquireHandle(AcquireHandle&& other) noexcept
    : pool_(other.pool_), requester_(other.requester_), serial_(other.serial_) {
  other.requester_ = nullptr;
}

AcquireHandle& AcquireHandle::operator=(AcquireHandle&& other) noexcept {
  if (this != &other) {
    cancel();
    pool_ = other.pool_;
    requester_ = other.requester_;
    serial_ = other.serial_;
    other.requester_ = nullptr;
  }
  return *this;
}

bool AcquireHandle::pending() const { return current() && (requester_->queued_ || requester_->connecting_ != nullptr); }

bool AcquireHandle::queued() const { return current() && requester_->queued_; }

void AcquireHandle::cancel() {
  if (pending()) pool_->cancel(*requester_);
  requester_ = nullptr;
}

}  // namespace tether::upstream
