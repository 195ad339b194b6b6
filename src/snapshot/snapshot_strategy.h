// SnapshotStrategy: how a backend is snapshotted for checkpoint N, in two parts.
//
// SyncPart() runs on the subtask's thread while processing is paused, and must be short and
// independent of the state size (for a full snapshot: take the backend's snapshot view). It returns
// the AsyncSnapshotPart, which runs afterwards on an I/O thread while the subtask keeps reading and
// writing state, persists the bytes and returns the KeyedStateHandle to acknowledge.
#pragma once

#include <cstdint>
#include <memory>

#include "snapshot/checkpoint_listener.h"
#include "snapshot/checkpoint_options.h"
#include "snapshot/state_handle.h"
#include "weir/status.h"

namespace weir {

class AsyncSnapshotPart {
 public:
  virtual ~AsyncSnapshotPart() = default;
  // Runs once, on any one thread. On failure, removes what it wrote.
  virtual Result<KeyedStateHandle> Run() = 0;
};

// Also told every checkpoint's outcome (an incremental strategy builds only on a completed one).
class SnapshotStrategy : public CheckpointListener {
 public:
  // `options` says what N is: a checkpoint, a full checkpoint (reuses no earlier file) or a
  // savepoint (written to options.target only, never the base of a later checkpoint).
  virtual Result<std::unique_ptr<AsyncSnapshotPart>> SyncPart(uint64_t checkpoint_id,
                                                              const CheckpointOptions& options) = 0;
  // A checkpoint (CheckpointOptions::Checkpoint()).
  Result<std::unique_ptr<AsyncSnapshotPart>> SyncPart(uint64_t checkpoint_id) {
    return SyncPart(checkpoint_id, CheckpointOptions::Checkpoint());
  }
  void NotifyCheckpointComplete(uint64_t) override {}
  void NotifyCheckpointAborted(uint64_t) override {}
  // The backend was restored from `restored` of checkpoint N. `owned`: the job owns that
  // checkpoint (it resumed its own job directory), so its files may be the base of the next
  // checkpoint; otherwise they are never referenced.
  virtual void RestoredFrom(uint64_t /*checkpoint_id*/, const KeyedStateHandle& /*restored*/,
                            bool /*owned*/) {}
};

}  // namespace weir
