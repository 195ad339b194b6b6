#include "runtime/barrier/barrier_aligner.h"

namespace weir {

BarrierAligner::BarrierAligner(int num_channels, bool exactly_once)
    : exactly_once_(exactly_once),
      blocked_(static_cast<size_t>(num_channels), false),
      seen_(static_cast<size_t>(num_channels), false) {}

void BarrierAligner::Release() {
  blocked_.assign(blocked_.size(), false);
  seen_.assign(seen_.size(), false);
  seen_count_ = 0;
  aligning_.reset();
}

BarrierAligner::Decision BarrierAligner::OnBarrier(int channel, uint64_t id) {
  Decision d;
  const auto c = static_cast<size_t>(channel);
  if (id < latest_ || (id == latest_ && aligning_ != id)) return d;  // older, done or abandoned
  if (aligning_.has_value() && id > *aligning_) {
    d.abandoned = aligning_;
    Release();
  }
  if (!aligning_.has_value()) {
    aligning_ = id;
    latest_ = id;
  }
  if (!seen_[c]) {
    seen_[c] = true;
    ++seen_count_;
    if (exactly_once_) blocked_[c] = true;
  }
  if (seen_count_ == static_cast<int>(seen_.size())) {
    d.snapshot = id;
    Release();
  }
  return d;
}

void BarrierAligner::OnAbort(uint64_t id) {
  if (aligning_ == id) Release();
  if (id > latest_) latest_ = id;  // its barriers, should they still come, are ignored
}

}  // namespace weir
