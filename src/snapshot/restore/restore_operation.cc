#include "snapshot/restore/restore_operation.h"

#include <filesystem>
#include <functional>
#include <future>
#include <set>

#include "common/failpoint.h"
#include "common/progress.h"
#include "common/retry.h"
#include "io/owned_directory.h"
#include "snapshot/file_transfer.h"
#include "snapshot/key_group_stream.h"
#include "snapshot/state_file_verifier.h"

namespace weir {
namespace {

Status CheckCompatible(const KeyedStateHandle& handle, const RocksDbBackendOptions& options) {
  const KeyGroupRange wanted = options.key_group_range.empty()
                                   ? KeyGroupRange::All(options.max_parallelism)
                                   : options.key_group_range;
  if (handle.max_parallelism != options.max_parallelism) {
    return Status::InvalidArgument(
        "backend " + handle.backend_id + " was checkpointed with max parallelism " +
        std::to_string(handle.max_parallelism) + ", the restoring backend has " +
        std::to_string(options.max_parallelism));
  }
  if (handle.key_group_range != wanted) {
    return Status::InvalidArgument("backend " + handle.backend_id + " holds key groups " +
                                   handle.key_group_range.ToString() +
                                   " but the restoring backend owns " + wanted.ToString() +
                                   "; restoring into another key-group range (rescaling) is not "
                                   "supported yet");
  }
  return Status::OK();
}

Status LoadFullSnapshot(const CheckpointStorage& storage, const KeyedStateHandle& handle,
                        RocksDbKeyedStateBackend& backend) {
  if (handle.files.size() != 1 || handle.files[0].role != StateFileRole::kFullSnapshot) {
    return Status::Corruption("backend " + handle.backend_id +
                              ": a full snapshot must consist of exactly one key-group stream");
  }
  const StateFileHandle& file = handle.files[0];
  WEIR_ASSIGN_OR_RETURN(const std::string path, storage.ResolveRelative(file.path));
  WEIR_ASSIGN_OR_RETURN(auto readable, storage.fs().NewReadableFile(path));
  WEIR_ASSIGN_OR_RETURN(auto reader, KeyGroupStreamReader::Open(std::move(readable), file.path));
  const auto& header = reader->header();
  if (header.states != handle.states || header.key_group_range != handle.key_group_range ||
      header.max_parallelism != handle.max_parallelism) {
    return Status::Corruption(file.path + ": header does not match the checkpoint's metadata");
  }
  WEIR_RETURN_IF_ERROR(backend.RegisterStates(header.states));
  WEIR_ASSIGN_OR_RETURN(auto loader, backend.NewBulkLoader(header.states));
  WEIR_RETURN_IF_ERROR(reader->ForEachRow(
      [&](size_t state, int group, std::string_view key, std::string_view value) {
        return loader->Add(state, group, key, value);
      }));
  return loader->Finish();
}

// Runs `task(i)` for i in [0, n), on the pool when there is one; the first error wins.
Status ForEachParallel(size_t n, ThreadPool* pool, const std::function<Status(size_t)>& task) {
  if (pool == nullptr) {
    for (size_t i = 0; i < n; ++i) WEIR_RETURN_IF_ERROR(task(i));
    return Status::OK();
  }
  std::vector<std::future<Status>> futures;
  for (size_t i = 0; i < n; ++i) futures.push_back(pool->Submit([&task, i] { return task(i); }));
  Status first;
  for (auto& f : futures) {
    Status s = f.get();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

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
  WEIR_RETURN_IF_ERROR(CheckCompatible(handle, options).WithContext(context));
  // Large state takes a while: every file is read twice, to verify it and to fetch it.
  uint64_t bytes = 0;
  for (const auto& f : handle.files) bytes += f.size;
  Progress progress("restore of " + handle.backend_id + " from checkpoint " +
                        std::to_string(checkpoint_id) + " (verify + fetch)",
                    2 * handle.files.size(), 2 * bytes);
  WEIR_RETURN_IF_ERROR(ForEachParallel(handle.files.size(), io_pool, [&](size_t i) {
    Status s = VerifyStateFile(storage, checkpoint_id, handle.files[i]);
    progress.Add(1, handle.files[i].size);
    return s;
  }));

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
