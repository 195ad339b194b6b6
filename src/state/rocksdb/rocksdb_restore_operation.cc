#include "state/rocksdb/rocksdb_restore_operation.h"

#include <algorithm>
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
  return RestoreKeyedStateBackend(storage, checkpoint_id, std::vector<KeyedStateHandle>{handle},
                                  std::move(options), io_pool);
}

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id,
    const std::vector<KeyedStateHandle>& handles, RocksDbBackendOptions options,
    ThreadPool* io_pool) {
  const std::string context = "restore of checkpoint " + std::to_string(checkpoint_id);
  const bool incremental = std::any_of(
      handles.begin(), handles.end(),
      [](const KeyedStateHandle& h) { return h.kind == BackendSnapshotKind::kIncremental; });
  if (incremental) {
    if (handles.size() != 1) {
      return Status::NotSupported(context + ": backend " + options.backend_id +
                                  " would restore from " + std::to_string(handles.size()) +
                                  " incremental RocksDB snapshots; an incremental snapshot "
                                  "restores only at the parallelism it was taken at (take a full "
                                  "checkpoint to change the parallelism)");
    }
    WEIR_RETURN_IF_ERROR(
        CheckRestoreRange(handles[0], options.max_parallelism, options.key_group_range)
            .WithContext(context));
  } else {
    WEIR_RETURN_IF_ERROR(
        CheckRestoreHandles(handles, options.max_parallelism, options.key_group_range)
            .WithContext(context));
  }
  // Large state takes a while: every file is read twice, to verify it and to fetch it.
  uint64_t bytes = 0, files = 0;
  for (const auto& h : handles) {
    files += h.files.size();
    for (const auto& f : h.files) bytes += f.size;
  }
  Progress progress("restore of " + options.backend_id + " from checkpoint " +
                        std::to_string(checkpoint_id) + " (verify + fetch)",
                    2 * files, 2 * bytes);
  for (const auto& h : handles) {
    WEIR_RETURN_IF_ERROR(VerifyHandleFiles(storage, checkpoint_id, h, io_pool, &progress));
  }

  const std::string local_dir = options.local_dir;
  const auto discard = [&local_dir](std::unique_ptr<RocksDbKeyedStateBackend> backend) {
    backend.reset();  // close the database before its files go
    (void)DeleteLocalDirectory(local_dir);
  };
  if (incremental) {
    const KeyedStateHandle& handle = handles[0];
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
  Status loaded = LoadFullSnapshots(storage, handles, *backend);
  progress.Add(files, bytes);
  if (!loaded.ok()) {
    discard(std::move(backend));
    return loaded.WithContext(context);
  }
  return backend;
}

}  // namespace weir
