#include "checkpoint/checkpoint_cleaner.h"

#include "common/failpoint.h"

namespace weir {

CheckpointCleaner::CheckpointCleaner(CheckpointStorage storage)
    : storage_(std::move(storage)), owned_(storage_.owned()) {}

void CheckpointCleaner::Discard(DiscardPlan plan) {
  if (plan.empty()) return;
  pool_.Submit([this, plan = std::move(plan)] {
    for (uint64_t id : plan.checkpoints) DeleteCheckpointDir(id, /*metadata_first=*/true);
    DeleteFiles(plan.shared_files);
  });
}

void CheckpointCleaner::DiscardAborted(uint64_t checkpoint_id,
                                       std::vector<std::string> uploaded_files) {
  pool_.Submit([this, checkpoint_id, files = std::move(uploaded_files)] {
    DeleteFiles(files);
    DeleteCheckpointDir(checkpoint_id, /*metadata_first=*/false);
  });
}

void CheckpointCleaner::DiscardAbortedSavepoint(
    std::shared_ptr<const CheckpointStorage> savepoint) {
  pool_.Submit([this, savepoint = std::move(savepoint)] {
    const OwnedDirectory owned(savepoint->shared_fs(), savepoint->job_dir());
    auto completed = savepoint->fs().Exists(savepoint->MetadataPath(0));
    if (!completed.ok() || *completed) return Delete(Status::Aborted(""));
    Delete(owned.DeleteAll());
  });
}

void CheckpointCleaner::Delete(const Status& s) {
  if (!s.ok() && !s.IsNotFound()) failures_.fetch_add(1);
}

void CheckpointCleaner::DeleteCheckpointDir(uint64_t checkpoint_id, bool metadata_first) {
  if (metadata_first) {
    if (!Failpoints::Instance().Hit("cleaner.before_delete_metadata").ok())
      return Delete(Status::Aborted(""));
    Delete(owned_.DeleteFile(
        CheckpointStorage::RelativeCheckpointFile(checkpoint_id, kMetadataFileName)));
    Delete(storage_.fs().SyncDir(storage_.CheckpointDir(checkpoint_id)));
  }
  if (!Failpoints::Instance().Hit("cleaner.before_delete_checkpoint_dir").ok())
    return Delete(Status::Aborted(""));
  Delete(owned_.DeleteRecursively(CheckpointStorage::CheckpointDirName(checkpoint_id)));
}

void CheckpointCleaner::DeleteFiles(const std::vector<std::string>& relative_paths) {
  for (const auto& relative : relative_paths) {
    if (!Failpoints::Instance().Hit("cleaner.before_delete_shared").ok())
      return Delete(Status::Aborted(""));
    // A log file may lie in the log directory of dstl.dfs.base-path: the storage routes it.
    Delete(storage_.DeleteStateFile(relative));
  }
}

}  // namespace weir
