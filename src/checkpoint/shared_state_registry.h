// SharedStateRegistry: for every shared file (role kShared, under shared/), which retained
// checkpoints reference it. Pure bookkeeping, no I/O: it says which files became unreferenced;
// the CheckpointCleaner deletes them. Not thread-safe: owned by the CompletedCheckpointStore.
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
  // Checkpoint `id` is no longer retained. Returns the shared files (relative paths) that no
  // retained checkpoint references any more, in path order.
  std::vector<std::string> Release(uint64_t checkpoint_id);

  bool IsReferenced(const std::string& path) const { return refs_.count(path) != 0; }
  size_t size() const { return refs_.size(); }
  // Each file with the checkpoints that reference it.
  const std::map<std::string, std::set<uint64_t>>& references() const { return refs_; }

 private:
  std::map<std::string, std::set<uint64_t>> refs_;
  std::map<uint64_t, std::set<std::string>> files_of_;
};

}  // namespace weir
