// CheckpointListener: told the outcome of every checkpoint. Backends' snapshot strategies (an
// incremental one makes a completed checkpoint its base), operators and the runtime listen.
// Notifications may come from any thread; an implementation says which it expects.
#pragma once

#include <cstdint>

namespace weir {

class CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  virtual void NotifyCheckpointComplete(uint64_t checkpoint_id) = 0;
  virtual void NotifyCheckpointAborted(uint64_t checkpoint_id) = 0;
};

}  // namespace weir
