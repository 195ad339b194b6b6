#include "cluster/standby_copies.h"

#include "checkpoint/checkpoint_metadata.h"
#include "io/file_systems.h"
#include "io/owned_directory.h"

namespace weir::cluster {

Result<StandbyCopyStats> KeepShardStandbyCopy(const Configuration& config,
                                              const std::string& metadata_path,
                                              const std::string& local_recovery_dir,
                                              const std::atomic<bool>& cancelled) {
  WEIR_ASSIGN_OR_RETURN(std::shared_ptr<FileSystem> fs, FileSystemForPath(metadata_path, config));
  WEIR_ASSIGN_OR_RETURN(CheckpointPointer pointer,
                        CheckpointStorage::ResolvePointer(*fs, metadata_path));
  WEIR_ASSIGN_OR_RETURN(CheckpointMetadata metadata,
                        ReadCheckpointMetadata(*fs, pointer.metadata_path));
  WEIR_ASSIGN_OR_RETURN(const CheckpointStorage storage,
                        CheckpointStorage::ForPointer(fs, pointer).WithRecordedChangelogDir());
  StandbyCopyStats stats;
  for (const KeyedStateHandle& handle : metadata.backends) {
    if (Status s = ValidateIdentifier("backend id", handle.backend_id); !s.ok()) {
      return Status::Corruption(pointer.metadata_path + ": " + s.message());
    }
    WEIR_RETURN_IF_ERROR(KeepStandbyCopy(storage, metadata.checkpoint_id, handle,
                                         JoinPath(local_recovery_dir, handle.backend_id), cancelled,
                                         &stats));
  }
  return stats;
}

}  // namespace weir::cluster
