#include "snapshot/state_file_verifier.h"

#include "common/checksum.h"

namespace weir {

Result<uint64_t> ChecksumFile(FileSystem& fs, const std::string& path) {
  constexpr size_t kChunk = 4 << 20;
  WEIR_ASSIGN_OR_RETURN(auto file, fs.NewReadableFile(path));
  StreamingChecksum checksum;
  std::string chunk;
  for (uint64_t offset = 0; offset < file->Size(); offset += chunk.size()) {
    WEIR_RETURN_IF_ERROR(file->ReadAt(offset, kChunk, &chunk));
    if (chunk.empty()) return Status::IOError(path + ": file shrank while being read");
    checksum.Update(chunk);
  }
  return checksum.Digest();
}

Status CheckStateFileChecksum(uint64_t checkpoint_id, const StateFileHandle& file,
                              uint64_t actual) {
  if (actual == file.checksum) return Status::OK();
  return Status::Corruption("checkpoint " + std::to_string(checkpoint_id) + ": file " + file.path +
                            " is corrupt: checksum " + FormatChecksum(actual) + ", expected " +
                            FormatChecksum(file.checksum));
}

Status VerifyStateFile(const CheckpointStorage& storage, uint64_t checkpoint_id,
                       const StateFileHandle& file, bool checksum) {
  const std::string context = "checkpoint " + std::to_string(checkpoint_id) + ": file " + file.path;
  auto path = storage.ResolveRelative(file.path);
  if (!path.ok()) return path.status().WithContext("checkpoint " + std::to_string(checkpoint_id));
  // A directory on the way that is a link (a `shared/` pointing elsewhere) would make weir read,
  // and restore hard-link, files from outside the job directory.
  if (Status inside = storage.CheckStateFileNoLinks(file.path); !inside.ok()) {
    if (inside.IsNotFound()) return Status::NotFound(context + " is missing");
    return Status::Corruption(context + ": " + inside.message());
  }
  auto stat = storage.fs().Stat(*path);
  if (!stat.ok()) {
    if (stat.status().IsNotFound()) return Status::NotFound(context + " is missing");
    return stat.status().WithContext(context);
  }
  if (stat->is_symlink) {
    // A checkpoint's files lie inside its job directory; a link could point anywhere.
    return Status::Corruption(context + " is a symbolic link, not a file of the checkpoint");
  }
  if (stat->size != file.size) {
    return Status::Corruption(
        context + (stat->size < file.size ? " is truncated: " : " has size ") +
        std::to_string(stat->size) + " bytes, expected " + std::to_string(file.size));
  }
  if (!checksum) return Status::OK();
  auto actual = ChecksumFile(storage.fs(), *path);
  if (!actual.ok()) return actual.status().WithContext(context);
  return CheckStateFileChecksum(checkpoint_id, file, *actual);
}

}  // namespace weir
