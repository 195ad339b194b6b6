// SharedStateRegistry: for every shared file (under shared/, IsSharedRole), which checkpoints
// reference it. A reference is held by a retained completed checkpoint, by a pending checkpoint
// that will reuse the file, or by a subsumed checkpoint that a pending one may still build on
// (see CompletedCheckpointStore). Pure bookkeeping, no I/O: it says which files became
// unreferenced; the CheckpointCleaner deletes them. Not thread-safe: owned by the
// CompletedCheckpointStore.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_metadata.h"

namespace weir {

class SharedStateRegistry {
 public:
  // Checkpoint `m` completed: it references its shared files.
  void Register(const CheckpointMetadata& m);
  // Checkpoint `checkpoint_id` references `path` (a relative path of a shared file).
  void Register(uint64_t checkpoint_id, const std::string& path);
  // Checkpoint `id` no longer references anything. Returns the shared files (relative paths)
  // that no checkpoint references any more, in path order.
  std::vector<std::string> Release(uint64_t checkpoint_id);

  bool IsReferenced(const std::string& path) const { return refs_.count(path) != 0; }
  bool HoldsReferences(uint64_t checkpoint_id) const { return files_of_.count(checkpoint_id); }
  size_t size() const { return refs_.size(); }
  // Each file with the checkpoints that reference it.
  const std::map<std::string, std::set<uint64_t>>& references() const { return refs_; }

 private:
  std::map<std::string, std::set<uint64_t>> refs_;
  std::map<uint64_t, std::set<std::string>> files_of_;
};

}  // namespace weir
