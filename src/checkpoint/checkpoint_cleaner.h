// CheckpointCleaner: deletes what the CompletedCheckpointStore and the coordinator decided to
// discard, on its own thread, so that deletion never blocks the next checkpoint.
//
// A subsumed checkpoint goes in this order: its _metadata (from then on it no longer exists),
// then the rest of its chk-N directory, then the shared files it alone referenced. A crash
// between any two steps leaves only unreferenced files, which `weir checkpoints gc` removes.
// Every deletion goes through the job directory's OwnedDirectory: a path from a crafted
// `_metadata` or a link planted in the directory makes a deletion fail, never reach outside.
// Thread-safe.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "checkpoint/completed_checkpoint_store.h"
#include "common/thread_pool.h"
#include "storage/checkpoint_storage.h"

namespace weir {

class CheckpointCleaner {
 public:
  explicit CheckpointCleaner(CheckpointStorage storage);

  void Discard(DiscardPlan plan);
  // An aborted checkpoint: the files it uploaded (relative paths) and its chk-N directory.
  void DiscardAborted(uint64_t checkpoint_id, std::vector<std::string> uploaded_files);
  // An aborted savepoint: its directory, which weir created for it, with everything in it; kept
  // if it holds a `_metadata` (a savepoint that exists is the user's, never deleted).
  void DiscardAbortedSavepoint(std::shared_ptr<const CheckpointStorage> savepoint);
  // Blocks until everything scheduled so far is done.
  void WaitIdle() { pool_.WaitIdle(); }
  // Deletions that failed (the files stay behind as orphans for gc).
  uint64_t failures() const { return failures_.load(); }

 private:
  void Delete(const Status& s);
  void DeleteCheckpointDir(uint64_t checkpoint_id, bool metadata_first);
  void DeleteFiles(const std::vector<std::string>& relative_paths);

  CheckpointStorage storage_;
  OwnedDirectory owned_;  // every deletion goes through it
  std::atomic<uint64_t> failures_{0};
  // Last member: its thread must stop before the rest is destroyed.
  ThreadPool pool_{1, "weir-cleaner"};
};

}  // namespace weir
