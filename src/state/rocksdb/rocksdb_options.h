// The RocksDB backend's own options: how it flushes for a checkpoint and how it compacts. The
// options every backend shares (state.backend.type, incremental, the working directory, transfer
// threads) are declared in include/weir/config.h.
#pragma once

#include <vector>

#include "weir/config_option.h"

namespace weir {

enum class RocksDbCompactionStyle { kLevel, kUniversal };
enum class RocksDbMemtable { kHashSkipList, kSkipList };

namespace config {

inline constexpr ConfigOption<bool> kAsyncFlush{
    .key = "state.backend.rocksdb.checkpoint.async-flush",
    .default_value = true,
    .description =
        "Where an incremental checkpoint flushes RocksDB's memtables: `true` = in the asynchronous "
        "part (the synchronous part only switches the memtables, well under a millisecond); "
        "`false` = in the synchronous part, so the task pauses for the flush (what Flink does). If "
        "writes made after the checkpoint reach an SST before the deferred flush ends (a memtable "
        "filled up during it), that checkpoint fails with a clear reason and the backend's next "
        "checkpoint flushes synchronously; see checkpoints.md."};
inline constexpr EnumChoice<RocksDbCompactionStyle> kCompactionStyles[] = {
    {RocksDbCompactionStyle::kLevel, "LEVEL"}, {RocksDbCompactionStyle::kUniversal, "UNIVERSAL"}};
inline constexpr ConfigOption<RocksDbCompactionStyle> kCompactionStyle{
    .key = "state.backend.rocksdb.compaction.style",
    .default_value = RocksDbCompactionStyle::kLevel,
    .description =
        "RocksDB compaction style of keyed state: `LEVEL` or `UNIVERSAL`; see benchmarks.md for "
        "what each costs an incremental checkpoint.",
    .flink_key = "state.backend.rocksdb.compaction.style",
    .choices = kCompactionStyles};
inline constexpr ConfigOption<int64_t> kLevel0Trigger{
    .key = "state.backend.rocksdb.compaction.level0-file-num-trigger",
    .default_value = 4,
    .description =
        "L0 files (`LEVEL`) or sorted runs (`UNIVERSAL`) that start a compaction; the write "
        "slowdown/stop triggers keep RocksDB's distance above it.",
    .min = 1,
    .max = 1000};
inline constexpr ConfigOption<int64_t> kMaxSizeAmplification{
    .key = "state.backend.rocksdb.compaction.universal.max-size-amplification-percent",
    .default_value = 200,
    .description =
        "`UNIVERSAL` only: all sorted runs are merged when the older ones exceed the newest by "
        "this percentage; bounds the checkpoint directory's size against the live state.",
    .min = 1,
    .max = 100000};

inline constexpr ConfigOption<bool> kIngestRestore{
    .key = "state.backend.rocksdb.use-ingest-db-restore-mode",
    .default_value = true,
    .description =
        "How a restore writes rows it reads (full snapshots; the other databases of an incremental "
        "checkpoint restored at another parallelism): `true` = into SST files ingested into the "
        "database (IngestExternalFile), `false` = through write batches and the memtable. See "
        "benchmarks.md, \"Rescaling\".",
    .flink_key = "state.backend.rocksdb.use-ingest-db-restore-mode"};

inline constexpr EnumChoice<RocksDbMemtable> kMemtables[] = {
    {RocksDbMemtable::kHashSkipList, "HASH_SKIPLIST"}, {RocksDbMemtable::kSkipList, "SKIPLIST"}};
inline constexpr ConfigOption<RocksDbMemtable> kMemtable{
    .key = "state.backend.rocksdb.memtable",
    .default_value = RocksDbMemtable::kSkipList,
    .description =
        "RocksDB memtable of keyed state: `SKIPLIST` = RocksDB's default, one skip list per "
        "memtable, whose search dominates the CPU of a read-modify-write loop; `HASH_SKIPLIST` = "
        "rows hashed by (key group, key, namespace) into buckets of short skip lists (a prefix "
        "extractor on the row key): a state access costs a hash and a short search, but a flush "
        "sorts the memtable, so flushes cost more and checkpoints take longer, and so does "
        "listing a state's keys (`GetKeys`, the timer service's start). See "
        "benchmarks.md, \"Hot path\", for what each costs.",
    .choices = kMemtables};

// RocksDB's memory in one budget (state/rocksdb/rocksdb_shared_memory.h, Flink's managed memory).
inline constexpr ConfigOption<bool> kRocksDbManagedMemory{
    .key = "state.backend.rocksdb.memory.managed",
    .default_value = true,
    .description =
        "Every RocksDB backend of the process reads through one block cache and writes into "
        "memtables counted against it (one write-buffer manager), so RocksDB's memory stays "
        "within `taskmanager.memory.managed.size` whatever the number of states and subtasks; "
        "`false`: each column family has RocksDB's own cache and write buffers (memory grows "
        "with states × subtasks).",
    .flink_key = "state.backend.rocksdb.memory.managed"};
inline constexpr ConfigOption<MemorySize> kManagedMemorySize{
    .key = "taskmanager.memory.managed.size",
    .default_value = MemorySize{0},
    .description =
        "The process's memory budget for RocksDB (block cache, index and filter blocks, "
        "memtables) when `state.backend.rocksdb.memory.managed` is on; 0: a tenth of the "
        "machine's physical memory, at least 128 mb.",
    .flink_key = "taskmanager.memory.managed.size"};
inline constexpr ConfigOption<MemorySize> kRocksDbFixedPerSlot{
    .key = "state.backend.rocksdb.memory.fixed-per-slot",
    .default_value = MemorySize{0},
    .description =
        "A budget per slot instead of the process's: the backends of subtask i of every operator "
        "(slot i) share one cache and write-buffer manager of this size; 0: unset.",
    .flink_key = "state.backend.rocksdb.memory.fixed-per-slot"};
inline constexpr ConfigOption<double> kRocksDbWriteBufferRatio{
    .key = "state.backend.rocksdb.memory.write-buffer-ratio",
    .default_value = 0.5,
    .description =
        "Share of the budget memtables may take (the write-buffer manager is sized 2/3 of it, as "
        "RocksDB lets memtables grow to 1.5× that); the block cache gets the rest.",
    .flink_key = "state.backend.rocksdb.memory.write-buffer-ratio"};
inline constexpr ConfigOption<double> kRocksDbHighPrioPoolRatio{
    .key = "state.backend.rocksdb.memory.high-prio-pool-ratio",
    .default_value = 0.1,
    .description =
        "Share of the block cache reserved for index and filter blocks (cached with high "
        "priority, so data blocks cannot evict them).",
    .flink_key = "state.backend.rocksdb.memory.high-prio-pool-ratio"};

// The write-back cache in front of RocksDB (state/rocksdb/rocksdb_write_back_cache.h).
inline constexpr ConfigOption<bool> kWriteBackCache{
    .key = "state.backend.rocksdb.write-back-cache.enabled",
    .default_value = true,
    .description =
        "Keep recently used rows in memory in front of RocksDB: a state access that hits costs a "
        "hash lookup, and a row written many times between checkpoints reaches RocksDB once. "
        "Dirty rows are frozen at the checkpoint's synchronous part and written by a thread of "
        "the backend before the memtable switch (or, for full snapshots and canonical "
        "savepoints, before the snapshot they read); iterating a map or a state's keys writes "
        "them first. See checkpoints.md.",
};
inline constexpr ConfigOption<int64_t> kWriteBackIngestMinRows{
    .key = "state.backend.rocksdb.write-back-cache.ingest-min-rows",
    .default_value = 32768,
    .description =
        "At least this many rows of one state in a batch (a checkpoint's dirty rows, mostly) "
        "the write-back cache's writer sorts into one SST file and ingests (IngestExternalFile), "
        "skipping the memtable inserts and the flush the checkpoint would wait for; fewer rows, "
        "states whose L0 files reached RocksDB's write slowdown trigger and files that would not "
        "land in L0 go through write batches and the memtable. 0: never ingest. See "
        "checkpoints.md.",
    .min = 0,
    .max = 1'000'000'000};
inline constexpr ConfigOption<double> kRocksDbWriteBackCacheRatio{
    .key = "state.backend.rocksdb.memory.write-back-cache-ratio",
    .default_value = 0.25,
    .description =
        "With managed memory: the share of the budget the write-back caches of the backends "
        "sharing it hold together (split evenly among them); RocksDB's block cache and memtables "
        "get the rest."};
inline constexpr ConfigOption<MemorySize> kWriteBackCacheSize{
    .key = "state.backend.rocksdb.write-back-cache.size",
    .default_value = MemorySize{uint64_t{64} << 20},
    .description = "Without managed memory: the memory each backend's write-back cache may hold.",
    .min = 64 << 10};

// The options above, for the registry (src/config/option_registry.cc). Header-only: the
// registry needs no link dependency on this module.
inline std::vector<OptionDescriptor> RocksDbOptions() {
  return {Describe(kAsyncFlush),
          Describe(kCompactionStyle),
          Describe(kLevel0Trigger),
          Describe(kMaxSizeAmplification),
          Describe(kIngestRestore),
          Describe(kMemtable),
          Describe(kRocksDbManagedMemory),
          Describe(kManagedMemorySize),
          Describe(kRocksDbFixedPerSlot),
          Describe(kRocksDbWriteBufferRatio),
          Describe(kRocksDbHighPrioPoolRatio),
          Describe(kWriteBackCache),
          Describe(kWriteBackIngestMinRows),
          Describe(kRocksDbWriteBackCacheRatio),
          Describe(kWriteBackCacheSize)};
}

}  // namespace config
}  // namespace weir
