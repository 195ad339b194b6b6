// Makes keyed-state backends of any registered type over one checkpoint storage in a temporary
// directory, each with a working directory of its own: the fixture of the backend contract tests
// (a test derives from it).
#pragma once

#include <memory>
#include <string>

#include "common/thread_pool.h"
#include "io/file_system.h"
#include "state/changelog/changelog_keyed_state_backend.h"
#include "state/changelog/changelog_options.h"
#include "state/state_backends.h"
#include "testing/temp_dir.h"

namespace weir::testing {

class BackendMaker {
 protected:
  // `type` is a state.backend.type, or a RocksDB variant (its settings hold for every backend
  // made afterwards): "rocksdb_hash" = the hash memtable and its prefix extractor;
  // "rocksdb_small_cache" = incremental checkpoints through a write-back cache of 64 kb, so rows
  // are evicted and written back all the time; "rocksdb_no_cache" = no write-back cache;
  // "rocksdb_changelog", "hashmap_changelog" = changelog checkpoints (materializing at every
  // checkpoint, and never). Max
  // parallelism 128, every key group. With state.backend.changelog.enabled set, the backends are
  // changelog backends over one ChangelogWriter.
  Result<std::unique_ptr<CheckpointableKeyedStateBackend>> Make(const std::string& type,
                                                                const std::string& id,
                                                                const KeyedStateRestore* restore) {
    if (type == "rocksdb_hash") {
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.rocksdb.memtable", "HASH_SKIPLIST"));
    } else if (type == "rocksdb_small_cache") {
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.incremental", "true"));
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.rocksdb.memory.managed", "false"));
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.rocksdb.write-back-cache.size", "64 kb"));
    } else if (type == "rocksdb_no_cache") {
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.rocksdb.write-back-cache.enabled", "false"));
    } else if (type == "rocksdb_changelog") {  // a materialization begun at every checkpoint
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.changelog.enabled", "true"));
      WEIR_RETURN_IF_ERROR(
          config_.Set("state.backend.changelog.periodic-materialize.interval", "0 ms"));
    } else if (type == "hashmap_changelog") {  // the log alone (the first materialization is
      WEIR_RETURN_IF_ERROR(config_.Set("state.backend.changelog.enabled", "true"));  // 10 min on)
    }
    KeyedStateBackendParameters p;
    p.backend_id = id;
    p.local_dir = tmp_.Sub("local-" + std::to_string(made_++));
    p.max_parallelism = 128;
    p.key_group_range = KeyGroupRange::Of(0, 127);
    p.config = &config_;
    p.checkpoint_storage = &storage_;
    p.io_pool = &pool_;
    if (config_.Get(config::kChangelogEnabled)) {
      if (!changelog_writer_) {
        changelog_writer_ = ChangelogWriter::Start(storage_, ChangelogWriterOptionsFrom(config_));
      }
      p.changelog_writer = changelog_writer_;
    }
    const std::string base = type.starts_with("rocksdb")   ? "rocksdb"
                             : type.starts_with("hashmap") ? "hashmap"
                                                           : type;
    return CreateKeyedStateBackend(base, p, restore);
  }

  TempDir tmp_;
  Configuration config_;
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
  ThreadPool pool_{2};
  // With state.backend.changelog.enabled: the log every backend made here shares (as a process's).
  std::shared_ptr<ChangelogWriter> changelog_writer_;
  int made_ = 0;
};

}  // namespace weir::testing
