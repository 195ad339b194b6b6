// FullSnapshotStrategy: each checkpoint writes all of a backend's state as one self-contained
// key-group stream, chk-<N>/<backend id>.kgs; a savepoint writes the same stream (the canonical
// format) as <backend id>.kgs in its savepoint directory.
//
// Sync part: the backend's snapshot view (RocksDB: a snapshot, constant time), without the
// values of TTL states that have expired by then (state/ttl_snapshot_view.h). Async part:
// streams every row visible in that snapshot to the file, fsyncs it and its directory, and returns
// the handle with size and checksum. Writes that the backend takes after the sync part are not in
// the file.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "snapshot/checkpointable_keyed_state_backend.h"
#include "snapshot/key_group_stream.h"
#include "snapshot/snapshot_strategy.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// Writes `view` as a key-group stream to `relative` in `storage`, syncs it and its directory
// `dir` (made by `create_dir` before each attempt), and retries transient storage errors (the
// view can be read again); a file that could not be written is deleted. `failpoint` (if any) is
// hit before each attempt. Full snapshots and changelog materializations write through it.
Result<WrittenFile> WriteKeyGroupStreamFile(const CheckpointStorage& storage,
                                            const StateSnapshotView& view, int max_parallelism,
                                            KeyGroupRange range, const std::string& relative,
                                            const std::string& dir,
                                            const std::function<Status()>& create_dir,
                                            std::string_view failpoint = {});

class FullSnapshotStrategy final : public SnapshotStrategy {
 public:
  // Both must outlive the strategy; the async part keeps only what it needs (the snapshot view
  // holds what it reads).
  FullSnapshotStrategy(CheckpointableKeyedStateBackend& backend, const CheckpointStorage& storage)
      : backend_(backend), storage_(storage) {}

  using SnapshotStrategy::SyncPart;
  Result<std::unique_ptr<AsyncSnapshotPart>> SyncPart(uint64_t checkpoint_id,
                                                      const CheckpointOptions& options) override;

  static std::string FileName(const std::string& backend_id) { return backend_id + ".kgs"; }

 private:
  CheckpointableKeyedStateBackend& backend_;
  const CheckpointStorage& storage_;
};

}  // namespace weir
