#include "state/rocksdb/rocksdb_restore_operation.h"

#include <filesystem>
#include <functional>
#include <future>
#include <set>

#include "common/failpoint.h"
#include "common/progress.h"
#include "common/retry.h"
#include "io/owned_directory.h"
#include "snapshot/file_transfer.h"
#include "snapshot/restore/full_restore.h"

namespace weir {
namespace {

Status CheckIncrementalFiles(const KeyedStateHandle& handle) {
  std::set<std::string> names;
  for (const auto& f : handle.files) {
    const bool plain = !f.local_name.empty() && f.local_name.find('/') == std::string::npos &&
                       f.local_name != "." && f.local_name != "..";
    if (f.role == StateFileRole::kFullSnapshot || !plain || !names.insert(f.local_name).second) {
      return Status::Corruption("backend " + handle.backend_id + ": file " + f.path +
                                " has no usable local name in an incremental snapshot");
    }
  }
  return Status::OK();
}

// Places each (verified) file in the database directory under its RocksDB name.
Status FetchIncrementalFiles(const CheckpointStorage& storage, const KeyedStateHandle& handle,
                             const std::string& db_dir, ThreadPool* pool, Progress& progress) {
  auto local_fs = NewPosixFileSystem();
  WEIR_RETURN_IF_ERROR(local_fs->CreateDirs(db_dir));
  return ForEachParallel(handle.files.size(), pool, [&](size_t i) -> Status {
    const StateFileHandle& f = handle.files[i];
    WEIR_FAILPOINT("restore.fetch");
    WEIR_ASSIGN_OR_RETURN(const std::string from, storage.ResolveRelative(f.path));
    const std::string to = JoinPath(db_dir, f.local_name);
    progress.Add(1, f.size);
    // RocksDB never modifies an SST, so a hard link is safe; mutable files are copied.
    if (f.role == StateFileRole::kShared && storage.fs().Link(from, to).ok()) return Status::OK();
    auto copied = RetryRetryableResult<WrittenFile>(
        "fetch of " + f.path, [&] { return CopyFile(storage.fs(), from, *local_fs, to); });
    if (!copied.ok()) return copied.status().WithContext("fetch " + f.path);
    if (copied->size != f.size || copied->checksum != f.checksum) {
      return Status::Corruption("file " + f.path + " changed while it was fetched");
    }
    return Status::OK();
  });
}

}  // namespace

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id, const KeyedStateHandle& handle,
    RocksDbBackendOptions options, ThreadPool* io_pool) {
  const std::string context = "restore of checkpoint " + std::to_string(checkpoint_id);
  WEIR_RETURN_IF_ERROR(CheckRestoreRange(handle, options.max_parallelism, options.key_group_range)
                           .WithContext(context));
  // Large state takes a while: every file is read twice, to verify it and to fetch it.
  uint64_t bytes = 0;
  for (const auto& f : handle.files) bytes += f.size;
  Progress progress("restore of " + handle.backend_id + " from checkpoint " +
                        std::to_string(checkpoint_id) + " (verify + fetch)",
                    2 * handle.files.size(), 2 * bytes);
  WEIR_RETURN_IF_ERROR(VerifyHandleFiles(storage, checkpoint_id, handle, io_pool, &progress));

  const std::string local_dir = options.local_dir;
  const auto discard = [&local_dir](std::unique_ptr<RocksDbKeyedStateBackend> backend) {
    backend.reset();  // close the database before its files go
    (void)DeleteLocalDirectory(local_dir);
  };
  if (handle.kind == BackendSnapshotKind::kIncremental) {
    WEIR_RETURN_IF_ERROR(CheckIncrementalFiles(handle).WithContext(context));
    auto open_incremental = [&]() -> Result<std::unique_ptr<RocksDbKeyedStateBackend>> {
      WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(local_dir));  // a stale attempt
      WEIR_RETURN_IF_ERROR(FetchIncrementalFiles(
          storage, handle, RocksDbKeyedStateBackend::DbDir(local_dir), io_pool, progress));
      WEIR_FAILPOINT("restore.before_open");
      return RocksDbKeyedStateBackend::OpenRestored(std::move(options), handle.states);
    };
    auto opened = open_incremental();
    if (!opened.ok()) {
      discard(nullptr);
      return opened.status().WithContext(context);
    }
    return opened;
  }

  auto opened = RocksDbKeyedStateBackend::Open(std::move(options));
  if (!opened.ok()) return opened.status().WithContext(context);
  std::unique_ptr<RocksDbKeyedStateBackend> backend = std::move(opened).value();
  Status loaded = LoadFullSnapshot(storage, handle, *backend);
  progress.Add(handle.files.size(), bytes);
  if (!loaded.ok()) {
    discard(std::move(backend));
    return loaded.WithContext(context);
  }
  return backend;
}

}  // namespace weir
