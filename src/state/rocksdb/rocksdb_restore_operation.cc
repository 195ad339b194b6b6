#include "state/rocksdb/rocksdb_restore_operation.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <set>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/progress.h"
#include "io/owned_directory.h"
#include "snapshot/file_transfer.h"
#include "snapshot/restore/full_restore.h"
#include "snapshot/state_file_verifier.h"
#include "state/rocksdb/local_recovery_copy.h"

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

// The files of a handle that a local recovery copy holds (local_recovery_copy.h).
struct LocalFiles {
  std::string copy_dir;
  std::vector<bool> matched;  // by index into the handle's files
  size_t count() const {
    return static_cast<size_t>(std::count(matched.begin(), matched.end(), true));
  }
};

// Places each file (verified but for its checksum) in the database directory under its RocksDB
// name, checking its checksum as it is copied or, once linked, by reading the link: each byte of
// the checkpoint is read once (on S3 a verification pass would download everything twice).
// Those `local` holds come from its copy (a hard link) instead of the checkpoint storage.
Status FetchIncrementalFiles(const CheckpointStorage& storage, uint64_t checkpoint_id,
                             const KeyedStateHandle& handle, const std::string& db_dir,
                             ThreadPool* pool, Progress& progress,
                             const LocalFiles* local = nullptr) {
  auto local_fs = NewPosixFileSystem();
  WEIR_RETURN_IF_ERROR(local_fs->CreateDirs(db_dir));
  return ForEachParallel(handle.files.size(), pool, [&](size_t i) -> Status {
    const StateFileHandle& f = handle.files[i];
    WEIR_FAILPOINT("restore.fetch");
    if (local != nullptr && !local->matched.empty() && local->matched[i]) {
      const std::string from = JoinPath(local->copy_dir, f.local_name);
      const std::string to = JoinPath(db_dir, f.local_name);
      progress.Add(1, f.size);
      // As below: SSTs are never modified, so a link is safe; the other files are copied.
      const bool sst = f.local_name.ends_with(".sst");
      if (sst && local_fs->Link(from, to).ok()) return Status::OK();
      auto copied = CopyFile(*local_fs, from, *local_fs, to);
      if (!copied.ok()) return copied.status().WithContext("local copy of " + f.path);
      if (copied->size != f.size || copied->checksum != f.checksum) {
        return Status::Corruption("local copy of " + f.path + " changed while it was copied");
      }
      return Status::OK();
    }
    progress.Add(1, f.size);
    return FetchStateFile(storage, checkpoint_id, f, *local_fs, JoinPath(db_dir, f.local_name),
                          /*link_ssts=*/true);
  });
}

// Brings the rows of `handle`'s key groups that `into` owns into `into`: the handle's database is
// fetched into `dir`, opened, read through a snapshot view of just those key groups (seeks, not a
// scan of the rest) and deleted again.
Status ImportKeyGroups(const CheckpointStorage& storage, uint64_t checkpoint_id,
                       const KeyedStateHandle& handle, RocksDbKeyedStateBackend& into,
                       RocksDbBackendOptions options, const std::string& dir, ThreadPool* io_pool,
                       Progress& progress) {
  WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(dir));
  WEIR_RETURN_IF_ERROR(FetchIncrementalFiles(
      storage, checkpoint_id, handle, RocksDbKeyedStateBackend::DbDir(dir), io_pool, progress));
  options.backend_id = handle.backend_id;
  options.local_dir = dir;
  options.key_group_range = handle.key_group_range.Intersect(into.key_group_range());
  Status imported = [&]() -> Status {
    WEIR_ASSIGN_OR_RETURN(
        auto source, RocksDbKeyedStateBackend::OpenRestored(std::move(options), handle.states));
    WEIR_ASSIGN_OR_RETURN(auto view, source->CreateSnapshotView());
    WEIR_RETURN_IF_ERROR(into.RegisterStates(view->states()));
    WEIR_ASSIGN_OR_RETURN(auto loader, into.NewBulkLoader(view->states()));
    auto it = view->NewIterator();
    for (; it->Valid(); it->Next()) {
      if (!into.key_group_range().Contains(it->key_group())) continue;
      WEIR_RETURN_IF_ERROR(loader->Add(it->state_index(), it->key_group(), it->key(), it->value()));
    }
    WEIR_RETURN_IF_ERROR(it->status());
    return loader->Finish();
  }();
  const Status removed = DeleteLocalDirectory(dir);  // the source is closed by now
  WEIR_RETURN_IF_ERROR(imported);
  return removed;
}

}  // namespace

const KeyedStateHandle* IncrementalRestoreBase(const std::vector<KeyedStateHandle>& handles,
                                               KeyGroupRange range) {
  const KeyedStateHandle* base = nullptr;
  for (const auto& h : handles) {
    if (h.kind != BackendSnapshotKind::kIncremental) continue;
    if (base == nullptr ||
        h.key_group_range.Intersect(range).size() > base->key_group_range.Intersect(range).size()) {
      base = &h;
    }
  }
  return base;
}

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
  WEIR_RETURN_IF_ERROR(
      CheckRestoreHandles(handles, options.max_parallelism, options.key_group_range)
          .WithContext(context));
  // Large state takes a while: every file is read twice, to verify it and to fetch it.
  uint64_t bytes = 0, files = 0;
  for (const auto& h : handles) {
    files += h.files.size();
    for (const auto& f : h.files) bytes += f.size;
  }
  Progress progress("restore of " + options.backend_id + " from checkpoint " +
                        std::to_string(checkpoint_id) + " (verify + fetch)",
                    2 * files, 2 * bytes);
  // Local recovery: the files of the restored database that its local copy holds, with the
  // recorded sizes and checksums, are neither read nor fetched from the checkpoint storage.
  const KeyedStateHandle* base =
      incremental ? IncrementalRestoreBase(handles, options.key_group_range) : nullptr;
  LocalFiles local;
  if (base != nullptr && !options.local_recovery_dir.empty()) {
    local.copy_dir = LocalRecoveryCopy::NewestCopyAtMost(options.local_recovery_dir, checkpoint_id);
    local.matched = MatchLocalCopy(*base, local.copy_dir);
  }
  for (const auto& h : handles) {
    if (&h == base && local.count() > 0) {
      KeyedStateHandle rest = h;
      rest.files.clear();
      uint64_t local_bytes = 0;
      for (size_t i = 0; i < h.files.size(); ++i) {
        if (local.matched[i]) {
          local_bytes += h.files[i].size;
        } else {
          rest.files.push_back(h.files[i]);
        }
      }
      progress.Add(local.count(), local_bytes);
      LogInfo("restore of " + h.backend_id + " from checkpoint " + std::to_string(checkpoint_id) +
              ": " + std::to_string(local.count()) + " of " + std::to_string(h.files.size()) +
              " files (" + std::to_string(local_bytes) + " bytes) from its local copy");
      WEIR_RETURN_IF_ERROR(VerifyHandleFiles(storage, checkpoint_id, rest, io_pool, &progress,
                                             /*checksums=*/false));
      continue;
    }
    // An incremental handle's files are checksummed as they are fetched; a full snapshot's are
    // read in place, block by block, and are checksummed whole first.
    WEIR_RETURN_IF_ERROR(VerifyHandleFiles(storage, checkpoint_id, h, io_pool, &progress,
                                           h.kind != BackendSnapshotKind::kIncremental));
  }

  const std::string local_dir = options.local_dir;
  const auto discard = [&local_dir](std::unique_ptr<RocksDbKeyedStateBackend> backend) {
    backend.reset();  // close the database before its files go
    (void)DeleteLocalDirectory(local_dir);
  };
  if (incremental) {
    // The database of the handle sharing the most key groups becomes this backend's; the others'
    // key groups in range are brought in (none when the parallelism did not change).
    for (const auto& h : handles) {
      if (h.kind == BackendSnapshotKind::kIncremental) {
        WEIR_RETURN_IF_ERROR(CheckIncrementalFiles(h).WithContext(context));
      }
    }
    const RocksDbBackendOptions import_options = options;
    auto open_incremental = [&]() -> Result<std::unique_ptr<RocksDbKeyedStateBackend>> {
      WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(local_dir));  // a stale attempt
      WEIR_RETURN_IF_ERROR(FetchIncrementalFiles(storage, checkpoint_id, *base,
                                                 RocksDbKeyedStateBackend::DbDir(local_dir),
                                                 io_pool, progress, &local));
      WEIR_FAILPOINT("restore.before_open");
      WEIR_ASSIGN_OR_RETURN(
          auto backend, RocksDbKeyedStateBackend::OpenRestored(std::move(options), base->states));
      if (base->key_group_range != backend->key_group_range()) {
        WEIR_RETURN_IF_ERROR(backend->DropKeyGroupsOutsideRange(base->key_group_range));
      }
      std::vector<KeyedStateHandle> full;
      int imported = 0;
      for (const auto& h : handles) {
        if (&h == base) continue;
        if (h.kind == BackendSnapshotKind::kFull) {
          full.push_back(h);
          continue;
        }
        WEIR_RETURN_IF_ERROR(ImportKeyGroups(
            storage, checkpoint_id, h, *backend, import_options,
            JoinPath(local_dir, "import-" + std::to_string(imported++)), io_pool, progress));
      }
      if (!full.empty()) WEIR_RETURN_IF_ERROR(LoadFullSnapshots(storage, full, *backend));
      return backend;
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
