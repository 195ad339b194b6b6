// What `weir checkpoints verify` and `gc` compute for one job directory: every completed
// checkpoint's files checked (present, size, checksum), and the files under shared/ and chk-*/
// that no completed checkpoint references (orphans: left by crashes, aborted checkpoints or
// interrupted deletions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_metadata.h"

namespace weir {

struct FileProblem {
  uint64_t checkpoint_id = 0;
  std::string path;     // relative to the job directory
  std::string message;  // what is wrong
};

struct OrphanFile {
  std::string path;  // relative to the job directory ("dstl/<file>": in its log directory)
  uint64_t size = 0;
  int64_t modified_unix_ms = 0;
};

struct VerifyReport {
  std::string job_dir;  // or the savepoint's directory
  bool savepoint = false;
  std::vector<uint64_t> checkpoints;  // completed checkpoints whose metadata reads
  std::vector<FileProblem> unreadable_metadata;
  std::vector<FileProblem> missing;
  std::vector<FileProblem> corrupt;
  std::vector<OrphanFile> orphans;
  // Entries weir never writes: symbolic links, FIFOs, sockets, devices. Never followed or read.
  std::vector<FileProblem> foreign;
  uint64_t referenced_bytes = 0;  // distinct files the checkpoints reference
  uint64_t total_bytes = 0;       // every file under the job directory
  bool healthy() const {
    return unreadable_metadata.empty() && missing.empty() && corrupt.empty() && foreign.empty();
  }
};

// `verify_checksums` false checks presence and size only. A savepoint's storage
// (Layout::kSavepoint) is verified the same way: its one savepoint, and as orphans the files in
// its directory it does not reference (weir never deletes them: gc refuses a savepoint).
Result<VerifyReport> VerifyJobDirectory(const CheckpointStorage& storage,
                                        bool verify_checksums = true);

struct GcResult {
  std::vector<OrphanFile> deleted;  // or, in a dry run, that would be deleted
  std::vector<OrphanFile> kept_in_grace;
  uint64_t failures = 0;
};

// Deletes the orphans of `report` last modified before `now_unix_ms - grace_ms` (all of them
// listed, none deleted, when `dry_run`), then removes chk-N directories left empty; every deletion
// through the job directory's OwnedDirectory. Refuses (FailedPrecondition) a directory weir does
// not recognize as a job directory, and one where a checkpoint's metadata is unreadable: its
// files cannot be told from orphans.
Result<GcResult> CollectOrphans(const CheckpointStorage& storage, const VerifyReport& report,
                                int64_t now_unix_ms, int64_t grace_ms, bool dry_run);

}  // namespace weir
