// Checks that a file a checkpoint references is present with the recorded size and checksum.
// Restore runs it on every file before building anything; `weir checkpoints verify` will too.
#pragma once

#include <cstdint>

#include "snapshot/state_handle.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// NotFound if missing, Corruption if the size or checksum differs; the message names the
// checkpoint and the file ("checkpoint 3: file chk-3/op.kgs is truncated: 120 bytes, expected
// 4096").
// `checksum` false: everything but the checksum (presence, no link, size), for a file whose
// checksum the caller checks as it copies it (CheckStateFileChecksum): read once, not twice.
Status VerifyStateFile(const CheckpointStorage& storage, uint64_t checkpoint_id,
                       const StateFileHandle& file, bool checksum = true);

// Corruption naming the checkpoint and the file, as VerifyStateFile's, unless `actual` is the
// recorded checksum.
Status CheckStateFileChecksum(uint64_t checkpoint_id, const StateFileHandle& file, uint64_t actual);

// Streams a file through XXH3-64.
Result<uint64_t> ChecksumFile(FileSystem& fs, const std::string& path);

}  // namespace weir
