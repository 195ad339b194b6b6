// Waiting for and forcing RocksDB's background work: used where a caller needs the database's
// files to stop changing (benchmarks settle a bulk load before measuring checkpoints).
#include <chrono>
#include <thread>

#include "state/rocksdb/rocksdb_db.h"

namespace weir {

Status RocksDbKeyedStateBackend::WaitForBackgroundWork() {
  WEIR_RETURN_IF_ERROR(DrainWriteBackCache());
  for (;;) {
    uint64_t busy = 0;
    for (const auto* property : {&rocksdb::DB::Properties::kCompactionPending,
                                 &rocksdb::DB::Properties::kMemTableFlushPending,
                                 &rocksdb::DB::Properties::kNumRunningCompactions,
                                 &rocksdb::DB::Properties::kNumRunningFlushes}) {
      // A compaction held for a replay (FinishReplay) stays pending: it is not coming.
      if (property == &rocksdb::DB::Properties::kCompactionPending && compactions_held()) {
        continue;
      }
      for (const auto& [name, cf] : db_->column_families) {
        uint64_t n = 0;
        if (db_->db->GetIntProperty(cf, *property, &n)) busy += n;
      }
    }
    if (busy == 0) return Status::OK();
    uint64_t errors = 0;
    if (db_->db->GetIntProperty(rocksdb::DB::Properties::kBackgroundErrors, &errors) && errors) {
      return Status::IOError("RocksDB in " + options_.local_dir + ": background work failed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status RocksDbKeyedStateBackend::CompactFully() {
  WEIR_RETURN_IF_ERROR(DrainWriteBackCache());
  rocksdb::FlushOptions flush;
  // Into the last level: its target size is never exceeded, so no compaction follows (left in
  // a middle level over its target, the data would be compacted again right after).
  rocksdb::CompactRangeOptions to_last_level;
  to_last_level.change_level = true;
  to_last_level.target_level = db_->cf_options.num_levels - 1;
  to_last_level.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const auto& [name, cf] : db_->column_families) {
    WEIR_RETURN_IF_ERROR(FromRocksDb(db_->db->Flush(flush, cf), "flush state '" + name + "'"));
    rocksdb::Status s = db_->db->CompactRange(to_last_level, cf, nullptr, nullptr);
    if (s.IsNotSupported()) {
      // RocksDB refuses the move when the compaction left files in several levels; then the
      // size-triggered compactions that follow are waited for below.
      s = db_->db->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr);
    }
    WEIR_RETURN_IF_ERROR(FromRocksDb(s, "compact state '" + name + "'"));
  }
  // Idle twice, a second apart: a compaction the last one makes necessary is scheduled after it.
  for (int idle = 0; idle < 2; ++idle) {
    WEIR_RETURN_IF_ERROR(WaitForBackgroundWork());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return WaitForBackgroundWork();
}

}  // namespace weir
