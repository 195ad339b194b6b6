#include "checkpoint/completed_checkpoint_store.h"

#include <algorithm>

namespace weir {

void DiscardPlan::Append(DiscardPlan other) {
  checkpoints.insert(checkpoints.end(), other.checkpoints.begin(), other.checkpoints.end());
  shared_files.insert(shared_files.end(), other.shared_files.begin(), other.shared_files.end());
}

CompletedCheckpointStore::CompletedCheckpointStore(int num_retained)
    : num_retained_(std::max(1, num_retained)) {}

Result<DiscardPlan> CompletedCheckpointStore::Add(CheckpointMetadata m) {
  if (!checkpoints_.empty() && m.checkpoint_id <= checkpoints_.back().checkpoint_id) {
    return Status::FailedPrecondition("checkpoint " + std::to_string(m.checkpoint_id) +
                                      " completed after checkpoint " +
                                      std::to_string(checkpoints_.back().checkpoint_id));
  }
  // Register first: a file the new checkpoint shares with a subsumed one stays referenced.
  registry_.Register(m);
  checkpoints_.push_back(std::move(m));
  DiscardPlan plan;
  while (static_cast<int>(checkpoints_.size()) > num_retained_) {
    const uint64_t id = checkpoints_.front().checkpoint_id;
    checkpoints_.pop_front();
    plan.checkpoints.push_back(id);
    auto released = registry_.Release(id);
    plan.shared_files.insert(plan.shared_files.end(), released.begin(), released.end());
  }
  return plan;
}

const CheckpointMetadata* CompletedCheckpointStore::Latest() const {
  return checkpoints_.empty() ? nullptr : &checkpoints_.back();
}

std::vector<uint64_t> CompletedCheckpointStore::RetainedIds() const {
  std::vector<uint64_t> ids;
  for (const auto& c : checkpoints_) ids.push_back(c.checkpoint_id);
  return ids;
}

Result<RecoveredStore> RecoverCompletedCheckpointStore(const CheckpointStorage& storage,
                                                       CompletedCheckpointStore* store) {
  RecoveredStore out;
  WEIR_ASSIGN_OR_RETURN(auto entries, storage.fs().ListDir(storage.job_dir()));
  for (const auto& e : entries) {
    if (auto id = CheckpointStorage::ParseCheckpointDirName(e.name)) {
      out.highest_checkpoint_id = std::max(out.highest_checkpoint_id, *id);
    }
  }
  WEIR_ASSIGN_OR_RETURN(auto ids, storage.ListCompletedCheckpointIds());
  for (uint64_t id : ids) {
    auto m = ReadCheckpointMetadata(storage.fs(), storage.MetadataPath(id));
    if (!m.ok()) {
      out.unreadable.push_back(m.status());
      continue;
    }
    if (m->checkpoint_id != id) {
      out.unreadable.push_back(Status::Corruption(storage.MetadataPath(id) + ": holds checkpoint " +
                                                  std::to_string(m->checkpoint_id)));
      continue;
    }
    if (m->kind == CheckpointKind::kSavepoint) continue;  // never subsumed by weir
    WEIR_ASSIGN_OR_RETURN(DiscardPlan plan, store->Add(std::move(m).value()));
    out.discard.Append(std::move(plan));
  }
  return out;
}

}  // namespace weir
