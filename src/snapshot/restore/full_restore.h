// The backend-neutral steps of a restore: check that a handle fits the restoring backend, verify
// every file it lists before anything is built, and load a full snapshot (a canonical key-group
// stream, whichever backend wrote it) into a fresh backend through the contract.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/progress.h"
#include "common/thread_pool.h"
#include "snapshot/checkpointable_keyed_state_backend.h"
#include "snapshot/state_handle.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// The handles a backend owning `range` restores from, after any change of parallelism: each
// written with `max_parallelism`, each holding some key group of `range`, no key group held by
// two of them, and every key group of `range` held by one. InvalidArgument naming the first
// handle (or key group) that breaks this: restoring would lose or double state.
Status CheckRestoreHandles(const std::vector<KeyedStateHandle>& handles, int max_parallelism,
                           KeyGroupRange range);

// Runs `task(i)` for i in [0, n), on the pool when there is one; the first error wins.
Status ForEachParallel(size_t n, ThreadPool* pool, const std::function<Status(size_t)>& task);

// Every file of the handle is present with its recorded size and checksum.
Status VerifyHandleFiles(const CheckpointStorage& storage, uint64_t checkpoint_id,
                         const KeyedStateHandle& handle, ThreadPool* pool, Progress* progress,
                         bool checksums = true);

// Loads the key groups of `backend`'s range from the key-group streams of full snapshots into
// `backend` (empty, freshly made): one stream when the parallelism is unchanged, the overlapping
// ones of the old subtasks after a rescale. Only the blocks of key groups in range are read. The
// states are the union of the streams'; a state that two streams describe differently is
// Corruption.
Status LoadFullSnapshots(const CheckpointStorage& storage,
                         const std::vector<KeyedStateHandle>& handles,
                         CheckpointableKeyedStateBackend& backend);

// The whole restore from full snapshots into an empty backend: handle check, verification of
// every file, load. Errors name the checkpoint.
Status RestoreFullSnapshots(const CheckpointStorage& storage, uint64_t checkpoint_id,
                            const std::vector<KeyedStateHandle>& handles,
                            CheckpointableKeyedStateBackend& backend, ThreadPool* pool);

}  // namespace weir
