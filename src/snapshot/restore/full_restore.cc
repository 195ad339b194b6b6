#include "snapshot/restore/full_restore.h"

#include <future>

#include "snapshot/key_group_stream.h"
#include "snapshot/state_file_verifier.h"

namespace weir {

Status CheckRestoreRange(const KeyedStateHandle& handle, int max_parallelism, KeyGroupRange range) {
  const KeyGroupRange wanted = range.empty() ? KeyGroupRange::All(max_parallelism) : range;
  if (handle.max_parallelism != max_parallelism) {
    return Status::InvalidArgument(
        "backend " + handle.backend_id + " was checkpointed with max parallelism " +
        std::to_string(handle.max_parallelism) + ", the restoring backend has " +
        std::to_string(max_parallelism));
  }
  if (handle.key_group_range != wanted) {
    return Status::InvalidArgument("backend " + handle.backend_id + " holds key groups " +
                                   handle.key_group_range.ToString() +
                                   " but the restoring backend owns " + wanted.ToString() +
                                   "; restoring into another key-group range (rescaling) is not "
                                   "supported");
  }
  return Status::OK();
}

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

Status VerifyHandleFiles(const CheckpointStorage& storage, uint64_t checkpoint_id,
                         const KeyedStateHandle& handle, ThreadPool* pool, Progress* progress) {
  return ForEachParallel(handle.files.size(), pool, [&](size_t i) {
    Status s = VerifyStateFile(storage, checkpoint_id, handle.files[i]);
    if (progress != nullptr) progress->Add(1, handle.files[i].size);
    return s;
  });
}

Status LoadFullSnapshot(const CheckpointStorage& storage, const KeyedStateHandle& handle,
                        CheckpointableKeyedStateBackend& backend) {
  if (handle.kind != BackendSnapshotKind::kFull || handle.files.size() != 1 ||
      handle.files[0].role != StateFileRole::kFullSnapshot) {
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

Status RestoreFullSnapshot(const CheckpointStorage& storage, uint64_t checkpoint_id,
                           const KeyedStateHandle& handle, CheckpointableKeyedStateBackend& backend,
                           ThreadPool* pool) {
  const std::string context = "restore of checkpoint " + std::to_string(checkpoint_id);
  WEIR_RETURN_IF_ERROR(
      CheckRestoreRange(handle, backend.max_parallelism(), backend.key_group_range())
          .WithContext(context));
  WEIR_RETURN_IF_ERROR(
      VerifyHandleFiles(storage, checkpoint_id, handle, pool, nullptr).WithContext(context));
  return LoadFullSnapshot(storage, handle, backend).WithContext(context);
}

}  // namespace weir
