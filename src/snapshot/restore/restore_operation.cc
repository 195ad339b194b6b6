#include "snapshot/restore/restore_operation.h"

#include <filesystem>

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

}  // namespace

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id, const KeyedStateHandle& handle,
    RocksDbBackendOptions options) {
  const std::string context = "restore of checkpoint " + std::to_string(checkpoint_id);
  WEIR_RETURN_IF_ERROR(CheckCompatible(handle, options).WithContext(context));
  for (const auto& file : handle.files) {
    WEIR_RETURN_IF_ERROR(VerifyStateFile(storage, checkpoint_id, file));
  }
  if (handle.kind != BackendSnapshotKind::kFull) {
    return Status::NotSupported(context + ": backend " + handle.backend_id +
                                " has an incremental snapshot, which this build cannot restore");
  }

  const std::string local_dir = options.local_dir;
  auto opened = RocksDbKeyedStateBackend::Open(std::move(options));
  if (!opened.ok()) return opened.status().WithContext(context);
  std::unique_ptr<RocksDbKeyedStateBackend> backend = std::move(opened).value();
  Status loaded = LoadFullSnapshot(storage, handle, *backend);
  if (!loaded.ok()) {
    backend.reset();  // close the database before its files go
    std::error_code ec;
    std::filesystem::remove_all(local_dir, ec);
    return loaded.WithContext(context);
  }
  return backend;
}

}  // namespace weir
