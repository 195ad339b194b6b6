// HashMapKeyedStateBackend ("hashmap", Flink's HashMapStateBackend): keyed state as objects in
// memory, one ordered table of rows per key group and state. Fast for state that fits in memory;
// its checkpoints are always full, in the same canonical key-group stream as RocksDB's full
// checkpoints, so each backend restores the other's full checkpoints.
//
// Rows are keyed like RocksDB's without the key-group prefix (varint length + key, varint length
// + namespace, map user key), so a key group's rows come out in the canonical order as they are.
// Snapshots are copy-on-write per key group: the synchronous part pins every (state, key group)
// table (a pointer copy each); the first write to a pinned table afterwards copies that table
// only, so the pause does not grow with the state and a snapshot costs memory only for the key
// groups written while it is read. Threads: see KeyedStateBackend; views are read elsewhere.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/checkpointable_keyed_state_backend.h"

namespace weir {

struct HashMapBackendOptions {
  std::string backend_id;  // [A-Za-z0-9._-]+
  int max_parallelism = kDefaultMaxParallelism;
  KeyGroupRange key_group_range;  // empty: every key group
};

class HashMapKeyedStateBackend final : public CheckpointableKeyedStateBackend {
 public:
  using Rows = std::map<std::string, std::string, std::less<>>;

  static Result<std::unique_ptr<HashMapKeyedStateBackend>> Create(HashMapBackendOptions options);
  ~HashMapKeyedStateBackend() override;

  const std::string& backend_id() const override { return options_.backend_id; }
  const KeyGroupRange& key_group_range() const override { return options_.key_group_range; }
  int max_parallelism() const override { return options_.max_parallelism; }
  Status SetCurrentKey(std::string_view serialized_key) override;
  using KeyedStateBackend::SetCurrentKey;
  int current_key_group() const override { return current_key_group_; }
  Status ForEachKey(std::string_view state_name, std::string_view serialized_namespace,
                    const std::function<bool(std::string_view key)>& visit) override;
  std::vector<StateMetaInfo> RegisteredStates() const override;

  // Full snapshots through `strategy` (the factory sets a FullSnapshotStrategy when the job
  // takes checkpoints).
  void SetSnapshotStrategy(std::unique_ptr<SnapshotStrategy> strategy) {
    strategy_ = std::move(strategy);
  }
  using CheckpointableKeyedStateBackend::Snapshot;
  Result<std::unique_ptr<AsyncSnapshotPart>> Snapshot(uint64_t checkpoint_id,
                                                      const CheckpointOptions& options) override;
  Result<std::unique_ptr<StateSnapshotView>> CreateSnapshotView() override;
  Status RegisterStates(const std::vector<StateMetaInfo>& states) override;
  Result<std::unique_ptr<StateBulkLoader>> NewBulkLoader(
      const std::vector<StateMetaInfo>& states) override;

 protected:
  Result<RawKeyedState*> GetOrCreateRawState(const StateMetaInfo& meta) override;
  // Starts the state's incremental cleanup: each access looks at a few more rows for expired
  // values.
  Status OnTtlStateRegistered(const StateMetaInfo& meta, const StateTtlConfig& ttl) override;

 private:
  class Table;
  class View;
  class Loader;
  explicit HashMapKeyedStateBackend(HashMapBackendOptions options);
  Table* FindTable(std::string_view name) const;

  HashMapBackendOptions options_;
  std::vector<std::unique_ptr<Table>> tables_;
  std::string current_key_prefix_;  // varint length + key
  int current_key_group_ = -1;
  std::unique_ptr<SnapshotStrategy> strategy_;  // last: destroyed first, it refers to *this
};

// The KeyedStateBackendFactory of "hashmap": empty, or restored from a full checkpoint of either
// backend (an incremental RocksDB checkpoint is refused with NotSupported).
Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateHashMapKeyedStateBackend(
    const KeyedStateBackendParameters& parameters, const KeyedStateRestore* restore);

}  // namespace weir
