#include "snapshot/file_transfer.h"

#include "common/checksum.h"
#include "common/retry.h"
#include "snapshot/state_file_verifier.h"

namespace weir {
namespace {

Result<WrittenFile> CopyInto(FileSystem& from_fs, const std::string& from, WritableFile& out,
                             const std::atomic<bool>* cancelled) {
  constexpr size_t kChunk = 4 << 20;
  WEIR_ASSIGN_OR_RETURN(auto in, from_fs.NewReadableFile(from));
  StreamingChecksum checksum;
  std::string chunk;
  uint64_t offset = 0;
  while (offset < in->Size()) {
    if (cancelled != nullptr && cancelled->load()) {
      return Status::Aborted("copy of " + from + " cancelled");
    }
    WEIR_RETURN_IF_ERROR(in->ReadAt(offset, kChunk, &chunk));
    if (chunk.empty()) return Status::IOError(from + ": file shrank while being copied");
    checksum.Update(chunk);
    WEIR_RETURN_IF_ERROR(out.Append(chunk));
    offset += chunk.size();
  }
  WEIR_RETURN_IF_ERROR(out.Sync());
  WEIR_RETURN_IF_ERROR(out.Close());
  return WrittenFile{offset, checksum.Digest(), 0};
}

}  // namespace

Result<WrittenFile> CopyFile(FileSystem& from_fs, const std::string& from, FileSystem& to_fs,
                             const std::string& to, const std::atomic<bool>* cancelled) {
  WEIR_ASSIGN_OR_RETURN(auto out, to_fs.NewWritableFile(to));
  auto copied = CopyInto(from_fs, from, *out, cancelled);
  if (!copied.ok()) {
    out.reset();
    (void)to_fs.DeleteFile(to);  // a partial copy is never referenced
  }
  return copied;
}

Status FetchStateFile(const CheckpointStorage& storage, uint64_t checkpoint_id,
                      const StateFileHandle& file, FileSystem& local_fs, const std::string& to,
                      bool link_ssts, const std::atomic<bool>* cancelled) {
  WEIR_ASSIGN_OR_RETURN(const std::string from, storage.ResolveRelative(file.path));
  const bool sst = link_ssts && file.local_name.size() > 4 && file.local_name.ends_with(".sst");
  if (sst && storage.fs().Link(from, to).ok()) {
    WEIR_ASSIGN_OR_RETURN(const uint64_t linked, ChecksumFile(local_fs, to));
    return CheckStateFileChecksum(checkpoint_id, file, linked);
  }
  auto copied = RetryRetryableResult<WrittenFile>("fetch of " + file.path, [&] {
    return CopyFile(storage.fs(), from, local_fs, to, cancelled);
  });
  if (!copied.ok()) return copied.status().WithContext("fetch " + file.path);
  if (copied->size != file.size) {
    return Status::Corruption("checkpoint " + std::to_string(checkpoint_id) + ": file " +
                              file.path + " changed while it was fetched");
  }
  return CheckStateFileChecksum(checkpoint_id, file, copied->checksum);
}

}  // namespace weir
