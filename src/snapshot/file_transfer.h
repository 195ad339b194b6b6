// Moving files between a backend's local directory and checkpoint storage, checksumming the
// bytes as they pass.
#pragma once

#include <atomic>
#include <string>

#include "io/file_system.h"
#include "snapshot/key_group_stream.h"  // WrittenFile
#include "snapshot/state_handle.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// Copies `from` (on `from_fs`) to `to` (on `to_fs`), fsyncs the copy, and returns its size and
// XXH3-64 checksum. On failure the partial copy is deleted. `cancelled` (if given) is looked at
// between chunks: once it is set the copy stops with Aborted.
Result<WrittenFile> CopyFile(FileSystem& from_fs, const std::string& from, FileSystem& to_fs,
                             const std::string& to, const std::atomic<bool>* cancelled = nullptr);

// Places state file `file` of checkpoint `checkpoint_id` at `to` on the local `local_fs`: with
// `link_ssts`, an SST as a hard link when the checkpoint storage can make one (RocksDB never
// modifies an SST), else a copy (retried while the storage fails transiently). Either way its
// size and checksum must be the recorded ones: Corruption naming the checkpoint and the file
// otherwise. `cancelled` as for CopyFile.
Status FetchStateFile(const CheckpointStorage& storage, uint64_t checkpoint_id,
                      const StateFileHandle& file, FileSystem& local_fs, const std::string& to,
                      bool link_ssts, const std::atomic<bool>* cancelled = nullptr);

}  // namespace weir
