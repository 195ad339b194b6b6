#include "checkpoint/completed_checkpoint_store.h"

#include <algorithm>

namespace weir {

void DiscardPlan::Append(DiscardPlan other) {
  checkpoints.insert(checkpoints.end(), other.checkpoints.begin(), other.checkpoints.end());
  shared_files.insert(shared_files.end(), other.shared_files.begin(), other.shared_files.end());
}

CompletedCheckpointStore::CompletedCheckpointStore(int num_retained)
    : num_retained_(std::max(1, num_retained)) {}

void CompletedCheckpointStore::AddPending(uint64_t id) { pending_.insert(id); }

Status CompletedCheckpointStore::HoldForPending(uint64_t id,
                                                const std::vector<KeyedStateHandle>& handles) {
  if (!pending_.count(id)) {
    return Status::FailedPrecondition("checkpoint " + std::to_string(id) + " is not pending");
  }
  std::vector<const std::string*> reused;
  for (const auto& backend : handles) {
    for (const auto& f : backend.files) {
      if (!IsSharedRole(f.role) || f.written_by_checkpoint == id) continue;
      // A changelog backend's file (a log file, a materialization) was written outside any
      // checkpoint: the first checkpoint that references it holds it from now on.
      if (f.written_by_checkpoint == 0) {
        reused.push_back(&f.path);
        continue;
      }
      if (!registry_.IsReferenced(f.path)) {
        return Status::FailedPrecondition(
            "checkpoint " + std::to_string(id) + " reuses " + f.path + " of checkpoint " +
            std::to_string(f.written_by_checkpoint) +
            ", which no retained checkpoint references any more (it was subsumed)");
      }
      reused.push_back(&f.path);
    }
  }
  for (const std::string* path : reused) registry_.Register(id, *path);
  return Status::OK();
}

DiscardPlan CompletedCheckpointStore::RemovePending(uint64_t id, bool keep_references) {
  DiscardPlan plan;
  if (pending_.erase(id) == 0) return plan;
  if (!keep_references) plan.shared_files = registry_.Release(id);
  plan.Append(ReleaseSubsumed());
  return plan;
}

Result<DiscardPlan> CompletedCheckpointStore::Add(CheckpointMetadata m) {
  if (!checkpoints_.empty() && m.checkpoint_id <= checkpoints_.back().checkpoint_id) {
    return Status::FailedPrecondition("checkpoint " + std::to_string(m.checkpoint_id) +
                                      " completed after checkpoint " +
                                      std::to_string(checkpoints_.back().checkpoint_id));
  }
  // Register first: a file the new checkpoint shares with a subsumed one stays referenced. The
  // references it held while pending become those of a completed checkpoint.
  pending_.erase(m.checkpoint_id);
  registry_.Register(m);
  checkpoints_.push_back(std::move(m));
  DiscardPlan plan;
  while (static_cast<int>(checkpoints_.size()) > num_retained_) {
    const uint64_t id = checkpoints_.front().checkpoint_id;
    checkpoints_.pop_front();
    plan.checkpoints.push_back(id);
    if (!pending_.empty() && *pending_.rbegin() > id) {
      subsumed_held_until_[id] = *pending_.rbegin();
    } else {
      auto released = registry_.Release(id);
      plan.shared_files.insert(plan.shared_files.end(), released.begin(), released.end());
    }
  }
  plan.Append(ReleaseSubsumed());
  return plan;
}

DiscardPlan CompletedCheckpointStore::ReleaseSubsumed() {
  DiscardPlan plan;
  for (auto it = subsumed_held_until_.begin(); it != subsumed_held_until_.end();) {
    const auto [id, until] = *it;
    const auto next_pending = pending_.upper_bound(id);
    if (next_pending != pending_.end() && *next_pending <= until) {
      ++it;
      continue;
    }
    auto released = registry_.Release(id);
    plan.shared_files.insert(plan.shared_files.end(), released.begin(), released.end());
    it = subsumed_held_until_.erase(it);
  }
  return plan;
}

std::vector<uint64_t> CompletedCheckpointStore::SubsumedStillHeld() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, until] : subsumed_held_until_) ids.push_back(id);
  return ids;
}

const CheckpointMetadata* CompletedCheckpointStore::Latest() const {
  return checkpoints_.empty() ? nullptr : &checkpoints_.back();
}

std::vector<uint64_t> CompletedCheckpointStore::RetainedIds() const {
  std::vector<uint64_t> ids;
  for (const auto& c : checkpoints_) ids.push_back(c.checkpoint_id);
  return ids;
}

Result<StoredCheckpoints> ReadStoredCheckpoints(const CheckpointStorage& storage,
                                                std::optional<uint64_t> newest) {
  StoredCheckpoints out;
  WEIR_ASSIGN_OR_RETURN(auto entries, storage.fs().ListDir(storage.job_dir()));
  for (const auto& e : entries) {
    if (auto id = CheckpointStorage::ParseCheckpointDirName(e.name)) {
      out.highest_checkpoint_id = std::max(out.highest_checkpoint_id, *id);
    }
  }
  WEIR_ASSIGN_OR_RETURN(auto ids, storage.ListCompletedCheckpointIds());
  for (uint64_t id : ids) {
    if (newest && id > *newest) {
      out.skipped_newer.push_back(id);
      continue;
    }
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
    if (IsSavepoint(m->kind)) continue;  // never subsumed by weir
    out.checkpoints.push_back(std::move(m).value());
  }
  return out;
}

Result<RecoveredStore> RegisterStoredCheckpoints(StoredCheckpoints stored,
                                                 CompletedCheckpointStore* store) {
  RecoveredStore out;
  out.unreadable = std::move(stored.unreadable);
  out.highest_checkpoint_id = stored.highest_checkpoint_id;
  out.skipped_newer = std::move(stored.skipped_newer);
  for (auto& m : stored.checkpoints) {
    WEIR_ASSIGN_OR_RETURN(DiscardPlan plan, store->Add(std::move(m)));
    out.discard.Append(std::move(plan));
  }
  return out;
}

Result<RecoveredStore> RecoverCompletedCheckpointStore(const CheckpointStorage& storage,
                                                       CompletedCheckpointStore* store,
                                                       std::optional<uint64_t> newest) {
  WEIR_ASSIGN_OR_RETURN(StoredCheckpoints stored, ReadStoredCheckpoints(storage, newest));
  return RegisterStoredCheckpoints(std::move(stored), store);
}

}  // namespace weir
