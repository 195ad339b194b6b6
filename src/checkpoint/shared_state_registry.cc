#include "checkpoint/shared_state_registry.h"

namespace weir {

void SharedStateRegistry::Register(const CheckpointMetadata& m) {
  for (const auto& backend : m.backends) {
    for (const auto& f : backend.files) {
      if (IsSharedRole(f.role)) Register(m.checkpoint_id, f.path);
    }
  }
}

void SharedStateRegistry::Register(uint64_t checkpoint_id, const std::string& path) {
  refs_[path].insert(checkpoint_id);
  files_of_[checkpoint_id].insert(path);
}

std::vector<std::string> SharedStateRegistry::Release(uint64_t checkpoint_id) {
  std::vector<std::string> unreferenced;
  auto it = files_of_.find(checkpoint_id);
  if (it == files_of_.end()) return unreferenced;
  for (const auto& path : it->second) {
    auto ref = refs_.find(path);
    ref->second.erase(checkpoint_id);
    if (ref->second.empty()) {
      refs_.erase(ref);
      unreferenced.push_back(path);
    }
  }
  files_of_.erase(it);
  return unreferenced;
}

}  // namespace weir
