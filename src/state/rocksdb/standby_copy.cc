#include "state/rocksdb/standby_copy.h"

#include <set>

#include "io/owned_directory.h"
#include "snapshot/file_transfer.h"
#include "state/rocksdb/local_recovery_copy.h"

namespace weir {
namespace {

// Fills `staging` with `handle`'s files: those it holds already (a former attempt's, for an
// older checkpoint that was subsumed while it was copied) stay, those `base` holds are linked,
// the rest fetched (copied, never linked to the checkpoint storage's files: the copy stands
// apart from them); then whatever the handle does not name goes.
Status FetchInto(const CheckpointStorage& storage, uint64_t checkpoint_id,
                 const KeyedStateHandle& handle, const std::string& base,
                 const std::string& staging, const std::atomic<bool>& cancelled,
                 StandbyCopyStats* stats) {
  auto local_fs = NewPosixFileSystem();
  WEIR_RETURN_IF_ERROR(local_fs->CreateDirs(staging));
  const OwnedDirectory owned(local_fs, staging);  // deletions inside it go through its guard
  // Most files were read at an earlier checkpoint's copy: their checksums are known.
  static LocalChecksumCache cache;
  const std::vector<bool> staged = MatchLocalCopy(handle, staging, &cache);
  const std::vector<bool> matched = MatchLocalCopy(handle, base, &cache);
  std::set<std::string> names;
  for (size_t i = 0; i < handle.files.size(); ++i) {
    const StateFileHandle& f = handle.files[i];
    names.insert(f.local_name);
    if (cancelled.load()) return Status::Aborted("standby copy cancelled");
    if (staged[i]) {
      ++stats->files_linked;
      continue;
    }
    const std::string to = JoinPath(staging, f.local_name);
    if (Status s = owned.DeleteRecursively(f.local_name); !s.ok()) {
      return s;  // a file of that name with other bytes that cannot go
    }
    if (matched[i] && local_fs->Link(JoinPath(base, f.local_name), to).ok()) {
      ++stats->files_linked;
      continue;
    }
    WEIR_RETURN_IF_ERROR(FetchStateFile(storage, checkpoint_id, f, *local_fs, to,
                                        /*link_ssts=*/false, &cancelled)
                             .WithContext("standby copy"));
    ++stats->files_fetched;
    stats->bytes_fetched += f.size;
  }
  WEIR_ASSIGN_OR_RETURN(auto entries, local_fs->ListDir(staging));
  for (const auto& e : entries) {
    if (names.count(e.name) == 0) WEIR_RETURN_IF_ERROR(owned.DeleteRecursively(e.name));
  }
  return Status::OK();
}

}  // namespace

Status KeepStandbyCopy(const CheckpointStorage& storage, uint64_t checkpoint_id,
                       const KeyedStateHandle& handle, const std::string& backend_dir,
                       const std::atomic<bool>& cancelled, StandbyCopyStats* stats) {
  if (handle.kind != BackendSnapshotKind::kIncremental) return Status::OK();
  // The names come from the checkpoint's metadata: each must be a plain file name before it
  // becomes part of a local path.
  for (const auto& f : handle.files) {
    if (Status s = ValidateIdentifier("local file", f.local_name); !s.ok()) {
      return Status::Corruption("checkpoint " + std::to_string(checkpoint_id) + ": backend " +
                                handle.backend_id + ": file " + f.path + ": " + s.message());
    }
  }
  const LocalRecoveryCopy copy(backend_dir);
  WEIR_RETURN_IF_ERROR(copy.CreateDir());
  const std::string target = LocalRecoveryCopy::CheckpointDir(backend_dir, checkpoint_id);
  if (NewPosixFileSystem()->Stat(target).ok()) return Status::OK();  // kept already
  // One staging directory whatever the checkpoint: what an attempt fetched serves the next one
  // (a checkpoint is often subsumed, its files deleted, while a large copy of it is under way).
  const std::string staging = StandbyStagingDir(backend_dir);
  Status fetched = FetchInto(storage, checkpoint_id, handle,
                             LocalRecoveryCopy::NewestCopyAtMost(backend_dir, checkpoint_id),
                             staging, cancelled, stats);
  if (fetched.ok()) fetched = NewPosixFileSystem()->Rename(staging, target);
  if (!fetched.ok()) {
    // Cancelled: the shard is about to run here, and its directory is its run's now.
    if (cancelled.load()) (void)DeleteLocalDirectory(staging);
    return fetched;
  }
  copy.Confirm(checkpoint_id);  // the copies of earlier checkpoints are not needed any more
  return Status::OK();
}

}  // namespace weir
