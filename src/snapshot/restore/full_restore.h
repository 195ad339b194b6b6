// The backend-neutral steps of a restore: check that a handle fits the restoring backend, verify
// every file it lists before anything is built, and load a full snapshot (a canonical key-group
// stream, whichever backend wrote it) into a fresh backend through the contract.
#pragma once

#include <cstdint>
#include <functional>

#include "common/progress.h"
#include "common/thread_pool.h"
#include "snapshot/checkpointable_keyed_state_backend.h"
#include "snapshot/state_handle.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// InvalidArgument when the handle was written with another max parallelism or holds another
// key-group range than `range` (an empty range means every key group).
Status CheckRestoreRange(const KeyedStateHandle& handle, int max_parallelism, KeyGroupRange range);

// Runs `task(i)` for i in [0, n), on the pool when there is one; the first error wins.
Status ForEachParallel(size_t n, ThreadPool* pool, const std::function<Status(size_t)>& task);

// Every file of the handle is present with its recorded size and checksum.
Status VerifyHandleFiles(const CheckpointStorage& storage, uint64_t checkpoint_id,
                         const KeyedStateHandle& handle, ThreadPool* pool, Progress* progress);

// Loads the one key-group stream of a full snapshot into `backend` (empty, freshly made).
Status LoadFullSnapshot(const CheckpointStorage& storage, const KeyedStateHandle& handle,
                        CheckpointableKeyedStateBackend& backend);

// The whole restore of a full snapshot into an empty backend: range check, verification, load.
// Errors name the checkpoint.
Status RestoreFullSnapshot(const CheckpointStorage& storage, uint64_t checkpoint_id,
                           const KeyedStateHandle& handle, CheckpointableKeyedStateBackend& backend,
                           ThreadPool* pool);

}  // namespace weir
