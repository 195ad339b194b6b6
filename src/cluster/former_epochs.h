// The directories of a shard's former owners. Every owner of a shard checkpoints into a directory
// of its own epoch, `<shard dir>/epoch-<E>/<job id>/`: a former owner that was paused past its
// lease writes only into its own epoch's directory, never into the new owner's. Once the new
// owner's first checkpoint is recorded in etcd (a full one: a shard restores without claiming),
// nothing needs the former epochs' directories any more, and the new owner deletes them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "io/file_system.h"
#include "weir/status.h"

namespace weir::cluster {

// "epoch-<E>" for epoch E.
std::string EpochDirName(int64_t epoch);
// The epoch of a directory named "epoch-<E>" (E a positive decimal without leading zeros, at
// most 18 digits); nullopt for any other name.
std::optional<int64_t> ParseEpochDirName(std::string_view name);

// Deletes the weir job directories inside every `epoch-<E>` directory of `shard_dir` with E
// below `epoch`, each through its job directory's guard (DeleteJobDirectory), then each such
// epoch directory if nothing else was left in it. Anything else in `shard_dir`, and anything in
// an epoch directory that is not a recognized job directory, is left alone. Returns the number
// of job directories deleted; the first error after trying them all.
Result<int> DeleteFormerEpochs(const std::shared_ptr<FileSystem>& fs, const std::string& shard_dir,
                               int64_t epoch);

}  // namespace weir::cluster
