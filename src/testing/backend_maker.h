// Makes keyed-state backends of any registered type over one checkpoint storage in a temporary
// directory, each with a working directory of its own: the fixture of the backend contract tests
// (a test derives from it).
#pragma once

#include <memory>
#include <string>

#include "common/thread_pool.h"
#include "io/file_system.h"
#include "state/state_backends.h"
#include "testing/temp_dir.h"

namespace weir::testing {

class BackendMaker {
 protected:
  // `type` is a state.backend.type, or a RocksDB variant (its settings hold for every backend
  // made afterwards): "rocksdb_hash" = the hash memtable and its prefix extractor;
  // "rocksdb_small_cache" = incremental checkpoints through a write-back cache of 64 kb, so rows
  // are evicted and written back all the time; "rocksdb_no_cache" = no write-back cache. Max
  // parallelism 128, every key group.
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
    }
    KeyedStateBackendParameters p;
    p.backend_id = id;
    p.local_dir = tmp_.Sub("local-" + std::to_string(made_++));
    p.max_parallelism = 128;
    p.key_group_range = KeyGroupRange::Of(0, 127);
    p.config = &config_;
    p.checkpoint_storage = &storage_;
    p.io_pool = &pool_;
    return CreateKeyedStateBackend(type.starts_with("rocksdb") ? "rocksdb" : type, p, restore);
  }

  TempDir tmp_;
  Configuration config_;
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
  ThreadPool pool_{2};
  int made_ = 0;
};

}  // namespace weir::testing
