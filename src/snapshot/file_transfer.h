// Moving files between a backend's local directory and checkpoint storage, checksumming the
// bytes as they pass.
#pragma once

#include <atomic>
#include <string>

#include "io/file_system.h"
#include "snapshot/key_group_stream.h"  // WrittenFile

namespace weir {

// Copies `from` (on `from_fs`) to `to` (on `to_fs`), fsyncs the copy, and returns its size and
// XXH3-64 checksum. On failure the partial copy is deleted. `cancelled` (if given) is looked at
// between chunks: once it is set the copy stops with Aborted.
Result<WrittenFile> CopyFile(FileSystem& from_fs, const std::string& from, FileSystem& to_fs,
                             const std::string& to, const std::atomic<bool>* cancelled = nullptr);

}  // namespace weir
