// Internals shared by the RocksDB backend's .cc files: the open database with its column
// families, and the conversion of rocksdb::Status to weir's Status.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_shared_memory.h"
#include "state/rocksdb/rocksdb_ttl_compaction_filter.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"

namespace weir {

struct RocksDbKeyedStateBackend::Db : MemtableHolder {
  rocksdb::DB* db = nullptr;
  // The budget the memtables are charged to (null: none); this database is one of its holders
  // from Open to its destruction.
  std::shared_ptr<RocksDbSharedMemory> memory;
  rocksdb::ColumnFamilyOptions cf_options;
  // Every column family's compaction filter; filters the states registered with a TTL.
  std::shared_ptr<TtlCompactionFilterFactory> ttl_filters =
      std::make_shared<TtlCompactionFilterFactory>();
  // Column family per state name. Changed only on the backend owner's thread, under families_mu
  // (the budget's flushes read it from writers' threads).
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> column_families;
  std::mutex families_mu;
  void AddColumnFamily(const std::string& state_name, rocksdb::ColumnFamilyHandle* handle);
  // Joins the budget's holders (after the database opened).
  void JoinMemoryBudget(std::shared_ptr<RocksDbSharedMemory> budget);
  // After a write: keeps the memtables within the budget (RocksDbSharedMemory).
  void WaitForMemtableRoom() {
    if (memory) memory->WaitForMemtableRoom();
  }
  Usage MemtableUsage() override;
  void FlushLargestMemtable() override;
  // Set when a deferred flush lost the race against a later flush (NativeCheckpoint::Finish):
  // the next native checkpoint flushes in its synchronous part.
  std::atomic<bool> flush_synchronously_next{false};
  // Deferred native checkpoints begun and maybe not finished: the next begin finishes them, and
  // so does the write-back cache's writer before it ingests rows (FinishSwitchedCheckpoints).
  // Dropped once their owners have.
  struct Unfinished {
    std::weak_ptr<NativeCheckpoint> checkpoint;
    HandedOverBatch switched;  // its memtable switch (the barrier)
  };
  std::mutex unfinished_mu;
  std::vector<Unfinished> unfinished;
  // Finishes the unfinished checkpoints whose barrier has passed (a later write may then reach
  // an SST file without failing them). The thread that writes RocksDB.
  void FinishSwitchedCheckpoints();

  // The compaction that rewrites the files a rescaled restore's dropped key groups straddle
  // (DropKeyGroupsOutsideRange) runs on a thread of its own; every native checkpoint waits for
  // it in its synchronous part (and retries it if it failed), so no checkpoint carries a dropped
  // row or, through a rewritten L0 file, a write made after its barrier. The database aborts it
  // when it closes.
  void StartDropCompaction(std::function<Status()> work);
  Status WaitForDropCompaction();
  std::mutex drop_mu;
  std::function<Status()> drop_work;
  std::thread drop_thread;
  Status drop_status;

  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() override;
};

Status FromRocksDb(const rocksdb::Status& s, const std::string& context);

// Writes never go to the WAL: durability comes from checkpoints.
const rocksdb::WriteOptions& StateWriteOptions();

// The hard links and copies of a native checkpoint into `dir`; flushes the memtables first
// when `flush` (else what is in SST files now).
Status LinkNativeCheckpoint(rocksdb::DB* db, const std::string& dir, bool flush);
// The files of a local directory, sorted by name.
Result<std::vector<LocalFile>> ListLocalFiles(const std::string& dir);

// The column family that holds state `state_name` ("default" stays unused, so any state name is
// allowed).
std::string ColumnFamilyName(std::string_view state_name);

}  // namespace weir
