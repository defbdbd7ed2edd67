#include "server/service/inflight_budget.h"

namespace murmur::server {

InflightBudget::Lease& InflightBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void InflightBudget::Lease::Release() {
  if (budget_ != nullptr) budget_->Return(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

std::optional<InflightBudget::Lease> InflightBudget::TryAcquire(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (streams_ >= max_streams_ || bytes > max_bytes_ - bytes_) return std::nullopt;
  bytes_ += bytes;
  ++streams_;
  return Lease(this, bytes);
}

uint64_t InflightBudget::bytes_in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

uint32_t InflightBudget::streams_in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_;
}

void InflightBudget::Return(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  bytes_ -= bytes;
  --streams_;
}

}  // namespace murmur::server
