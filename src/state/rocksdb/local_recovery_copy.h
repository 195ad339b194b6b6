// LocalRecoveryCopy: local recovery (Flink's state.backend.local-recovery) for the RocksDB
// backend's incremental checkpoints. Once an incremental checkpoint's files are uploaded, its
// native checkpoint directory (hard links of the database's SSTs, copies of MANIFEST, CURRENT,
// OPTIONS) is not deleted but moved to <dir>/chk-<N>; when a later checkpoint completes, the
// copies of earlier ones go. A restore of checkpoint N takes every file whose local copy has the
// size and checksum the checkpoint recorded from chk-<N> (a hard link, no download, no read of the
// checkpoint storage) and fetches only the others. The checksum decides, not the name: a copy of
// another run's chk-<N> (a former owner of a shard, a checkpoint that never completed) is simply
// not used.
//
// The copies cost disk, not I/O: the SSTs of the latest checkpoints stay linked after RocksDB's
// compactions have deleted them from the database. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "snapshot/state_handle.h"
#include "weir/status.h"

namespace weir {

class LocalRecoveryCopy {
 public:
  // `dir`: this backend's own directory (<local recovery directory>/<backend id>).
  explicit LocalRecoveryCopy(std::string dir) : dir_(std::move(dir)) {}

  static std::string CheckpointDir(const std::string& dir, uint64_t checkpoint_id);
  // Where a restore of checkpoint N looks for local files: chk-<N> if it is there, else the copy
  // of the newest earlier checkpoint (a standby's copy that has yet to catch up shares most of
  // N's SSTs); empty if there is none.
  static std::string NewestCopyAtMost(const std::string& dir, uint64_t checkpoint_id);

  // Creates `dir` owner-only if needed; refuses one that is a link, another user's or open to
  // others (FailedPrecondition naming it).
  Status CreateDir() const;

  // Moves `native_dir` (checkpoint N's native checkpoint, all of it uploaded) to chk-<N>,
  // replacing a stale copy of that id.
  Status Keep(uint64_t checkpoint_id, const std::string& native_dir) const;
  // Checkpoint N completed: the copies of earlier checkpoints are not needed any more.
  void Confirm(uint64_t checkpoint_id) const;
  // Checkpoint N was aborted: its copy goes.
  void Discard(uint64_t checkpoint_id) const;

 private:
  std::string dir_;
};

// The directory a standby copy is assembled in before it becomes chk-<N> (restores never look
// there).
std::string StandbyStagingDir(const std::string& dir);

// Checksums of local files already read, by device, inode (a hard link shares its target's),
// size and modification time: a standby copy links the same SSTs again at every checkpoint and
// need not read them again each time. Thread-safe; bounded (it starts over when full).
class LocalChecksumCache {
 public:
  // The checksum of regular file `path`, read only when its identity is not in the cache.
  Result<uint64_t> Checksum(const std::string& path);

 private:
  struct Key {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    auto operator<=>(const Key&) const = default;
  };
  std::mutex mu_;
  std::map<Key, uint64_t> checksums_;
};

// For each of `handle`'s files, whether `copy_dir` holds it under its RocksDB name as a regular
// file with the recorded size and checksum (an empty `copy_dir`: none). `cache`, if given,
// spares reading files whose identity it knows.
std::vector<bool> MatchLocalCopy(const KeyedStateHandle& handle, const std::string& copy_dir,
                                 LocalChecksumCache* cache = nullptr);

// The directory of one job's (or one shard's) local recovery copies:
// <parent>/weir-local-recovery-<uid>/<scope>, created owner-only. A base directory that is a link,
// belongs to another user or is open to others is refused (FailedPrecondition naming it): its
// name is predictable, so someone else may have made it first.
Result<std::string> CreateLocalRecoveryDirectory(const std::string& parent,
                                                 const std::string& scope);

// Deletes the copies of `scope` under `parent` (as CreateLocalRecoveryDirectory names them), if
// any: copies that no run will use (a shard that moved to another worker while this worker's
// process was down). Nothing is deleted under a base directory that is not this user's and
// owner-only.
Status DiscardLocalRecoveryDirectory(const std::string& parent, const std::string& scope);

}  // namespace weir
