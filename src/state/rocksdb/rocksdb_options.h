// The RocksDB backend's own options: how it flushes for a checkpoint and how it compacts. The
// options every backend shares (state.backend.type, incremental, the working directory, transfer
// threads) are declared in include/weir/config.h.
#pragma once

#include <vector>

#include "weir/config_option.h"

namespace weir {

enum class RocksDbCompactionStyle { kLevel, kUniversal };

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

// The options above, for the registry (src/config/option_registry.cc). Header-only: the
// registry needs no link dependency on this module.
inline std::vector<OptionDescriptor> RocksDbOptions() {
  return {Describe(kAsyncFlush), Describe(kCompactionStyle), Describe(kLevel0Trigger),
          Describe(kMaxSizeAmplification), Describe(kIngestRestore)};
}

}  // namespace config
}  // namespace weir
