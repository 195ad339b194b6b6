// checkpoint_bench: what one checkpoint costs after a change of a given fraction of the keys.
//
//   checkpoint_bench [--keys N] [--value-bytes B] [--change-percent P] [--dir D] [--json FILE]
//
// Builds one state (N keys), compacts it fully (a long-running job's state is mostly in the last
// level; the load's compactions are not the change), takes an incremental checkpoint as the base,
// changes P% of the keys, flushes them once (timed; the flush's time is added to every method
// that needs it, all but weir full), then, on that same database and that same change, measures:
//   weir incremental   checkpoint 2 on top of the base (sync part, total, bytes written)
//   weir full          a full checkpoint of the same state
//   BackupEngine       RocksDB's own incremental backup (share_table_files) of the same files,
//                      after a backup of the base
//   native copy        a RocksDB native checkpoint copied whole to another directory (fsynced):
//                      what a checkpoint without any incremental logic costs
// and the disk's sequential write bandwidth with fsync, the physical limit for bytes that must be
// written: each duration is also shown against bytes / bandwidth. Printed, not asserted.
#include <rocksdb/db.h>
#include <rocksdb/utilities/backup_engine.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "snapshot/file_transfer.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"

namespace {

using namespace weir;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "checkpoint_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}
void Check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "checkpoint_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

// Sequential write of `bytes` in 4 MiB appends, then fsync: bytes per second.
double DiskBandwidth(const std::string& dir, uint64_t bytes) {
  const std::string path = dir + "/bandwidth.tmp";
  auto file = NewPosixFileSystem()->NewWritableFile(path);
  Check(file.status(), "bandwidth file");
  std::string chunk(4 << 20, 'b');
  const auto start = Clock::now();
  for (uint64_t done = 0; done < bytes; done += chunk.size())
    Check((*file)->Append(chunk), "write");
  Check((*file)->Sync(), "fsync");
  const double s = Seconds(start);
  Check((*file)->Close(), "close");
  fs::remove(path);
  return static_cast<double>(bytes) / s;
}

struct Figure {
  const char* name;
  double sync_ms;
  double total_ms;
  uint64_t bytes;
  uint64_t files;
};

// Backs up a native checkpoint of the backend, opened as a plain RocksDB. The time includes the
// native checkpoint (its memtable flush), as BackupEngine on a live database flushes first too.
double BackupOf(RocksDbKeyedStateBackend& backend, rocksdb::BackupEngine* engine,
                const std::string& checkpoint_dir) {
  const auto start = Clock::now();
  Check(backend.CreateNativeCheckpoint(checkpoint_dir).status(), "native checkpoint");
  std::vector<std::string> families;
  Check(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), checkpoint_dir, &families), "list");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), checkpoint_dir, descriptors, &handles,
                                     &db),
        "open checkpoint");
  Check(engine->CreateNewBackup(db), "backup");
  const double s = Seconds(start);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t keys = 1000000, value_bytes = 100;
  double change_percent = 1.0;
  std::string dir = (fs::temp_directory_path() / "weir-checkpoint-bench").string();
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--keys")
      keys = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--value-bytes")
      value_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--change-percent")
      change_percent = std::atof(argv[i + 1]);
    else if (flag == "--dir")
      dir = argv[i + 1];
    else if (flag == "--json")
      json_path = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: checkpoint_bench [--keys N] [--value-bytes B] "
                   "[--change-percent P] [--dir D] [--json FILE]\n");
      return 2;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);

  RocksDbBackendOptions o;
  o.backend_id = "bench_0";
  o.local_dir = dir + "/local";
  auto backend = std::move(RocksDbKeyedStateBackend::Open(o)).value();
  auto state = *backend->GetValueState(ValueStateDescriptor<std::string>{"v"});
  auto ints = DefaultSerializer<int64_t>();
  std::mt19937_64 rng(42);
  std::string value(value_bytes, ' ');
  const auto put = [&](int64_t k) {
    for (auto& c : value) c = static_cast<char>('a' + rng() % 26);  // incompressible-ish
    Check(backend->SetCurrentKey(*ints, k), "key");
    Check(state->Update(value), "put");
  };
  for (uint64_t k = 0; k < keys; ++k) put(static_cast<int64_t>(k));
  // A long-running job's state is mostly in RocksDB's last level; the compactions of this bulk
  // load are not the change being measured (steady_state_bench measures compactions).
  Check(backend->CompactFully(), "settle");

  ThreadPool pool(4);
  const auto inc_storage = CheckpointStorage::ForJob(NewPosixFileSystem(), dir + "/inc", "job");
  const auto full_storage = CheckpointStorage::ForJob(NewPosixFileSystem(), dir + "/full", "job");
  IncrementalSnapshotStrategy incremental(*backend, inc_storage, pool);
  CheckpointCoordinator coordinator(inc_storage, CoordinatorOptions{"job", 1, {}});
  Check(coordinator.Recover().status(), "recover");
  coordinator.AddListener(&incremental);
  Check(testing::TakeCheckpoint(coordinator, {{backend.get(), &incremental}}).status(), "base");

  rocksdb::BackupEngine* engine = nullptr;
  rocksdb::BackupEngineOptions backup_options(dir + "/backup");
  backup_options.share_table_files = true;
  Check(rocksdb::BackupEngine::Open(rocksdb::Env::Default(), backup_options, &engine), "engine");
  BackupOf(*backend, engine, dir + "/native-base");
  const uint64_t backup_base_bytes = DirBytes(dir + "/backup");

  const uint64_t changed = static_cast<uint64_t>(static_cast<double>(keys) * change_percent / 100);
  for (uint64_t i = 0; i < changed; ++i) put(static_cast<int64_t>(rng() % keys));
  // Every method but the full checkpoint needs the change flushed from the memtable; whichever
  // ran first would pay for it alone. So it is flushed once here, timed, and added to each of
  // those methods' totals (weir incremental waits for it in its asynchronous part).
  const auto flush_start = Clock::now();
  Check(backend->CreateNativeCheckpoint(dir + "/flush").status(), "flush");
  const double flush_ms = Seconds(flush_start) * 1e3;
  fs::remove_all(dir + "/flush");

  std::vector<Figure> figures;
  KeyedStateHandle incremental_handle, full_handle;
  uint64_t incremental_id = 0;
  {
    const auto id = *coordinator.StartCheckpoint(CheckpointKind::kIncremental, {"bench_0"}, 0);
    incremental_id = id;
    const auto start = Clock::now();
    auto part = std::move(incremental.SyncPart(id)).value();
    const double sync = Seconds(start);
    auto handle = part->Run();
    Check(handle.status(), "incremental");
    const double total = Seconds(start);
    uint64_t files = 0;
    for (const auto& f : handle->files) files += f.written_by_checkpoint == id;
    figures.push_back({"weir incremental", sync * 1e3, total * 1e3 + flush_ms,
                       handle->checkpointed_bytes, files});
    incremental_handle = *handle;
    Check(coordinator.Acknowledge(id, *handle, 0).status(), "ack");
  }
  {
    Check(full_storage.Initialize(), "full storage");
    FullSnapshotStrategy full(*backend, full_storage);
    const auto start = Clock::now();
    auto part = std::move(full.SyncPart(1)).value();
    const double sync = Seconds(start);
    auto handle = part->Run();
    Check(handle.status(), "full");
    full_handle = *handle;
    figures.push_back(
        {"weir full", sync * 1e3, Seconds(start) * 1e3, handle->checkpointed_bytes, 1});
  }
  {
    const uint64_t before_files = std::distance(fs::recursive_directory_iterator(dir + "/backup"),
                                                fs::recursive_directory_iterator());
    const double s = BackupOf(*backend, engine, dir + "/native-changed");
    const uint64_t after_files = std::distance(fs::recursive_directory_iterator(dir + "/backup"),
                                               fs::recursive_directory_iterator());
    figures.push_back({"BackupEngine incremental", 0, s * 1e3 + flush_ms,
                       DirBytes(dir + "/backup") - backup_base_bytes, after_files - before_files});
  }
  // Recovery: the same state restored from each (a fresh local directory each time).
  struct Restore {
    const char* name;
    double ms;
  };
  std::vector<Restore> restores;
  {
    RocksDbBackendOptions r = o;
    r.local_dir = dir + "/restore-incremental";
    auto start = Clock::now();
    auto restored =
        RestoreKeyedStateBackend(inc_storage, incremental_id, incremental_handle, r, &pool);
    Check(restored.status(), "restore incremental");
    restores.push_back({"weir incremental", Seconds(start) * 1e3});
    restored->reset();
    r.local_dir = dir + "/restore-full";
    start = Clock::now();
    restored = RestoreKeyedStateBackend(full_storage, 1, full_handle, r, &pool);
    Check(restored.status(), "restore full");
    restores.push_back({"weir full", Seconds(start) * 1e3});
    restored->reset();
    start = Clock::now();
    Check(engine->RestoreDBFromLatestBackup(dir + "/restore-backup", dir + "/restore-backup"),
          "BackupEngine restore");
    restores.push_back({"BackupEngine", Seconds(start) * 1e3});
  }
  delete engine;
  {
    // A plain copy of a native checkpoint: hard links (sync part), then every file copied.
    const auto start = Clock::now();
    Check(backend->CreateNativeCheckpoint(dir + "/native-copy-src").status(), "native checkpoint");
    const double sync = Seconds(start);
    auto posix = NewPosixFileSystem();
    Check(posix->CreateDirs(dir + "/native-copy"), "copy dir");
    uint64_t bytes = 0, files = 0;
    for (const auto& e : fs::directory_iterator(dir + "/native-copy-src")) {
      auto written = CopyFile(*posix, e.path().string(), *posix,
                              dir + "/native-copy/" + e.path().filename().string());
      Check(written.status(), "copy");
      bytes += written->size;
      ++files;
    }
    Check(posix->SyncDir(dir + "/native-copy"), "sync dir");
    figures.push_back(
        {"native checkpoint copy", sync * 1e3, Seconds(start) * 1e3 + flush_ms, bytes, files});
  }
  const double bandwidth = DiskBandwidth(dir, 512ULL << 20);

  std::printf(
      "checkpoint cost after changing %.2f%% of %llu keys (%llu-byte values); full state "
      "%.1f MiB\n",
      change_percent, (unsigned long long)keys, (unsigned long long)value_bytes,
      static_cast<double>(figures[1].bytes) / (1 << 20));
  std::printf("disk sequential write with fsync: %.0f MiB/s\n", bandwidth / (1 << 20));
  std::printf("memtable flush of the change: %.1f ms (in each total but weir full's)\n\n",
              flush_ms);
  std::printf("%-26s %10s %12s %14s %7s %16s\n", "", "sync ms", "total ms", "bytes written",
              "files", "total / limit");
  for (const auto& f : figures) {
    const double limit_ms = static_cast<double>(f.bytes) / bandwidth * 1e3;
    std::printf("%-26s %10.2f %12.1f %14llu %7llu %15.1fx\n", f.name, f.sync_ms, f.total_ms,
                (unsigned long long)f.bytes, (unsigned long long)f.files,
                limit_ms > 0 ? f.total_ms / limit_ms : 0.0);
  }
  std::printf(
      "\n(limit = bytes written / disk bandwidth; the BackupEngine row has no sync part: "
      "RocksDB's backup holds the database for its whole duration)\n");
  std::printf("\nrestore of the same state from:");
  for (const auto& r : restores) std::printf("  %s %.1f ms", r.name, r.ms);
  std::printf("\n");
  if (!json_path.empty()) {
    nlohmann::json out = {{"keys", keys},
                          {"value_bytes", value_bytes},
                          {"change_percent", change_percent},
                          {"state_bytes", figures[1].bytes},
                          {"disk_bandwidth_bytes_per_s", bandwidth},
                          {"flush_ms", flush_ms},
                          {"figures", nlohmann::json::array()}};
    for (const auto& f : figures) {
      out["figures"].push_back({{"name", f.name},
                                {"sync_ms", f.sync_ms},
                                {"total_ms", f.total_ms},
                                {"bytes", f.bytes},
                                {"files", f.files},
                                {"limit_ms", static_cast<double>(f.bytes) / bandwidth * 1e3}});
    }
    out["restores"] = nlohmann::json::array();
    for (const auto& r : restores) out["restores"].push_back({{"name", r.name}, {"ms", r.ms}});
    std::ofstream(json_path) << out.dump(2) << "\n";
  }
  coordinator.cleaner().WaitIdle();
  backend.reset();
  fs::remove_all(dir);
  return 0;
}
