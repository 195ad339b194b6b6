#include "testing/checkpoint_helpers.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "snapshot/full_snapshot_strategy.h"

namespace weir::testing {

Result<CheckpointMetadata> TakeFullCheckpoint(RocksDbKeyedStateBackend& backend,
                                              const CheckpointStorage& storage, uint64_t id,
                                              const std::string& job_id) {
  FullSnapshotStrategy strategy(backend, storage);
  WEIR_ASSIGN_OR_RETURN(auto async_part, strategy.SyncPart(id));
  WEIR_ASSIGN_OR_RETURN(KeyedStateHandle handle, async_part->Run());
  CheckpointMetadata metadata;
  metadata.checkpoint_id = id;
  metadata.kind = CheckpointKind::kFull;
  metadata.job_id = job_id;
  metadata.trigger_unix_ms = 1700000000000 + static_cast<int64_t>(id);
  metadata.completed_unix_ms = metadata.trigger_unix_ms + 5;
  metadata.backends.push_back(std::move(handle));
  WEIR_RETURN_IF_ERROR(WriteCheckpointMetadata(storage, metadata));
  return metadata;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

void Truncate(const std::string& path, uint64_t size) { std::filesystem::resize_file(path, size); }

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

}  // namespace weir::testing

namespace weir::testing {

Result<CheckpointMetadata> TakeCheckpoint(CheckpointCoordinator& coordinator,
                                          const std::vector<Participant>& participants,
                                          CheckpointKind kind) {
  std::vector<std::string> ids;
  for (const auto& p : participants) ids.push_back(p.backend->backend_id());
  WEIR_ASSIGN_OR_RETURN(uint64_t id, coordinator.StartCheckpoint(kind, ids, 1700000000000));
  std::vector<std::unique_ptr<AsyncSnapshotPart>> parts;
  for (const auto& p : participants) {
    auto part = p.strategy->SyncPart(id);
    if (!part.ok()) {
      coordinator.Abort(id, part.status().ToString());
      return part.status();
    }
    parts.push_back(std::move(part).value());
  }
  std::optional<CheckpointMetadata> completed;
  for (auto& part : parts) {
    auto handle = part->Run();
    if (!handle.ok()) {
      coordinator.Abort(id, handle.status().ToString());
      return handle.status();
    }
    WEIR_ASSIGN_OR_RETURN(completed, coordinator.Acknowledge(id, *handle, 1700000000000 + 5));
  }
  if (!completed) return Status::Internal("checkpoint did not complete after every ack");
  return *completed;
}

}  // namespace weir::testing
