// BarrierAligner: decides, for a task with several input channels, when checkpoint N's barrier
// has arrived from every channel (docs/design.md, step 3). Pure bookkeeping, no threads.
//
// Exactly-once: a channel that delivered barrier N is blocked (the task does not read it) until
// every channel delivered N, so no record after the barrier reaches the snapshot of N.
// At-least-once: nothing is blocked; the snapshot happens when the last barrier arrives.
// A barrier of a newer checkpoint while N is still aligning abandons N (a channel skipped it, so
// N can never complete here); barriers of abandoned or older checkpoints are ignored. Channels
// carry barriers even after their end of input, so every channel takes part in every alignment.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace weir {

class BarrierAligner {
 public:
  BarrierAligner(int num_channels, bool exactly_once);

  struct Decision {
    std::optional<uint64_t> snapshot;   // take checkpoint N's snapshot now
    std::optional<uint64_t> abandoned;  // alignment of this checkpoint was given up
  };
  Decision OnBarrier(int channel, uint64_t checkpoint_id);
  // The coordinator aborted N: stop waiting for its barriers.
  void OnAbort(uint64_t checkpoint_id);

  const std::vector<bool>& blocked() const { return blocked_; }
  std::optional<uint64_t> aligning() const { return aligning_; }

 private:
  void Release();

  bool exactly_once_;
  std::vector<bool> blocked_;  // exactly-once: channels waiting for the others
  std::vector<bool> seen_;     // channels that delivered the current barrier
  int seen_count_ = 0;
  std::optional<uint64_t> aligning_;
  uint64_t latest_ = 0;  // highest checkpoint id whose barrier was seen
};

}  // namespace weir
