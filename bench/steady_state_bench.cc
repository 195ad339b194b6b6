// steady_state_bench: many incremental checkpoints under continuous updates, as a long-running
// job takes them. N keys of B-byte values; before each of C checkpoints, U random keys are
// updated; the coordinator retains --retained checkpoints and deletes what none needs. Per
// checkpoint: bytes written, the compressed size of the records changed since the previous one
// (the same records written to one SST with RocksDB's default compression: what an ideal
// incremental checkpoint would upload), the checkpoint directory's size against the live state
// size (the base checkpoint's, taken when every key was written once), the files in shared/, and
// the synchronous and total time. Printed (a summary) and, with
// --json, every checkpoint's row. Never asserted.
//
//   steady_state_bench [--keys N] [--value-bytes B] [--updates U] [--checkpoints C]
//                      [--retained R] [--dir D] [--json FILE] [--quick]
//                      [--async-flush 0|1] [--compaction level|universal] [--l0-trigger N]
//                      [--size-amp PERCENT]
//                      [--changelog] [--materialize-interval DURATION] [--pace-ms MS]
//
// The async-flush to size-amp flags set the backend's RocksDB tuning (state.backend.rocksdb.*
// keys), so that one program measures each tuning's effect on the same workload. --changelog
// takes changelog checkpoints instead (state.backend.changelog.enabled, weir's default RocksDB
// tuning, a materialization every --materialize-interval, default 60 s), starting them
// --pace-ms apart (default 1000, as a job checkpointing every second would); its bytes written
// are every byte it added to the checkpoint storage (log files and materializations included,
// `_metadata` not), its base a full checkpoint (a materialization of its own).
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "state/changelog/changelog_keyed_state_backend.h"
#include "state/changelog/changelog_options.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/state_backends.h"
#include "testing/checkpoint_helpers.h"

namespace {

using namespace weir;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// Bytes and files under `dir` (and under its shared/).
struct DirFigures {
  uint64_t bytes = 0, files = 0, shared_files = 0;
};
DirFigures Walk(const std::string& dir) {
  DirFigures d;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    d.bytes += e.file_size();
    ++d.files;
    if (e.path().parent_path().filename() == "shared") ++d.shared_files;
  }
  return d;
}

// The changed records (sorted, last value wins) in one SST with RocksDB's default options.
uint64_t CompressedSize(std::vector<std::pair<std::string, std::string>> records,
                        const std::string& path) {
  // Stable: of several writes of one key, the latest stays last.
  std::stable_sort(records.begin(), records.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const rocksdb::EnvOptions env_options;
  const rocksdb::Options options;
  rocksdb::SstFileWriter writer(env_options, options);
  if (!writer.Open(path).ok()) std::exit(1);
  for (size_t i = 0; i < records.size(); ++i) {
    if (i + 1 < records.size() && records[i + 1].first == records[i].first) continue;
    if (!writer.Put(records[i].first, records[i].second).ok()) std::exit(1);
  }
  if (!writer.Finish().ok()) std::exit(1);
  const uint64_t size = fs::file_size(path);
  fs::remove(path);
  return size;
}

// Bytes of the files under `dir` that `seen` does not hold yet (it then does): what was written
// there since the last call, files being written once. `_metadata` files do not count.
uint64_t NewBytes(const std::string& dir, std::set<std::string>* seen) {
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "_metadata") continue;
    if (seen->insert(e.path().string()).second) bytes += e.file_size();
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t keys = 400000, value_bytes = 200, updates = 40000, checkpoints = 200;
  int retained = 1;
  bool changelog = false;
  std::string materialize_interval = "60 s";
  int pace_ms = 1000;
  RocksDbTuning tuning;
  std::string dir = (fs::temp_directory_path() / "weir-steady-state-bench").string();
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (flag == "--keys")
      keys = std::stoull(next());
    else if (flag == "--value-bytes")
      value_bytes = std::stoull(next());
    else if (flag == "--updates")
      updates = std::stoull(next());
    else if (flag == "--checkpoints")
      checkpoints = std::stoull(next());
    else if (flag == "--retained")
      retained = std::stoi(next());
    else if (flag == "--dir")
      dir = next();
    else if (flag == "--json")
      json_path = next();
    else if (flag == "--async-flush")
      tuning.async_flush = next() != "0";
    else if (flag == "--compaction")
      tuning.compaction_style = next() == "universal" ? RocksDbCompactionStyle::kUniversal
                                                      : RocksDbCompactionStyle::kLevel;
    else if (flag == "--l0-trigger")
      tuning.level0_file_num_compaction_trigger = std::stoi(next());
    else if (flag == "--size-amp")
      tuning.max_size_amplification_percent = std::stoi(next());
    else if (flag == "--changelog")
      changelog = true;
    else if (flag == "--materialize-interval")
      materialize_interval = next();
    else if (flag == "--pace-ms")
      pace_ms = std::stoi(next());
    else if (flag == "--quick")
      keys = 100000, updates = 10000, checkpoints = 60;
    else {
      std::fprintf(stderr,
                   "usage: steady_state_bench [--keys N] [--value-bytes B] [--updates U] "
                   "[--checkpoints C] [--retained R] [--dir D] [--json FILE] [--quick] "
                   "[--async-flush 0|1] [--compaction level|universal] [--l0-trigger N] "
                   "[--size-amp PERCENT] [--changelog] [--materialize-interval DURATION] "
                   "[--pace-ms MS]\n");
      return 2;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  ThreadPool pool(4);
  const auto storage = CheckpointStorage::ForJob(NewPosixFileSystem(), dir + "/checkpoints", "job");
  // Incremental: a RocksDB backend with the strategy below. Changelog: the backend a job makes.
  Configuration config;
  std::shared_ptr<ChangelogWriter> writer;
  std::unique_ptr<CheckpointableKeyedStateBackend> made;
  std::unique_ptr<RocksDbKeyedStateBackend> rocksdb;
  if (changelog) {
    Check(config.Set(config::kChangelogEnabled.key, "true"), "config");
    Check(config.Set(config::kChangelogMaterializeInterval.key, materialize_interval), "config");
    writer = ChangelogWriter::Start(storage, ChangelogWriterOptionsFrom(config));
    KeyedStateBackendParameters p;
    p.backend_id = "bench_0";
    p.local_dir = dir + "/local";
    p.key_group_range = KeyGroupRange::Of(0, kDefaultMaxParallelism - 1);
    p.config = &config;
    p.checkpoint_storage = &storage;
    p.io_pool = &pool;
    p.changelog_writer = writer;
    auto created = CreateKeyedStateBackend("rocksdb", p, nullptr);
    Check(created.status(), "backend");
    made = std::move(created).value();
  } else {
    RocksDbBackendOptions o;
    o.backend_id = "bench_0";
    o.local_dir = dir + "/local";
    o.tuning = tuning;
    rocksdb = std::move(RocksDbKeyedStateBackend::Open(o)).value();
  }
  CheckpointableKeyedStateBackend* backend =
      changelog ? made.get() : static_cast<CheckpointableKeyedStateBackend*>(rocksdb.get());
  auto state = *backend->GetValueState(ValueStateDescriptor<std::string>{"v"});
  auto ints = DefaultSerializer<int64_t>();
  std::mt19937_64 rng(7);
  std::string value(value_bytes, ' ');
  std::vector<std::pair<std::string, std::string>> changed;
  const auto put = [&](int64_t k) {
    for (auto& c : value) c = static_cast<char>(rng());  // incompressible, as in the baseline
    Check(backend->SetCurrentKey(*ints, k), "key");
    Check(state->Update(value), "put");
    changed.emplace_back(std::string(reinterpret_cast<const char*>(&k), sizeof(k)), value);
  };
  for (uint64_t k = 0; k < keys; ++k) put(static_cast<int64_t>(k));
  if (rocksdb) {
    Check(rocksdb->CreateNativeCheckpoint(dir + "/settle").status(), "flush");
    fs::remove_all(dir + "/settle");
    Check(rocksdb->WaitForBackgroundWork(), "settle");  // the load's compactions are not updates
  }

  std::unique_ptr<IncrementalSnapshotStrategy> strategy;
  if (rocksdb) strategy = std::make_unique<IncrementalSnapshotStrategy>(*rocksdb, storage, pool);
  CheckpointCoordinator coordinator(storage, CoordinatorOptions{"job", retained, {}});
  Check(coordinator.Recover().status(), "recover");
  coordinator.AddListener(strategy ? static_cast<CheckpointListener*>(strategy.get()) : backend);
  const CheckpointKind kind = changelog ? CheckpointKind::kChangelog : CheckpointKind::kIncremental;
  // One checkpoint: its synchronous part's duration, and its completed metadata.
  const auto take = [&](const CheckpointOptions& options, double* sync_ms_out) {
    const auto id = *coordinator.StartCheckpoint(kind, {"bench_0"}, 0);
    // The backend's synchronous part alone (the task's pause), not the coordinator's start.
    const auto start = Clock::now();
    auto part = strategy ? strategy->SyncPart(id, options) : backend->Snapshot(id, options);
    Check(part.status(), "sync part");
    *sync_ms_out = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    auto handle = (*part)->Run();
    Check(handle.status(), "async part");
    auto m = coordinator.Acknowledge(id, *handle, 0);
    Check(m.status(), "acknowledge");
    if (!m->has_value()) Check(Status::Internal("not completed"), "acknowledge");
    return std::move(**m);
  };
  // Every key written once and flushed: the base's files are the live state, compressed, with
  // nothing overwritten in them. Keys and value sizes never change, so neither does that size.
  // (Changelog: a full checkpoint, whose own materialization holds every key.)
  double base_sync_ms = 0;
  const CheckpointMetadata base =
      take(changelog ? CheckpointOptions::FullCheckpoint() : CheckpointOptions::Checkpoint(),
           &base_sync_ms);
  uint64_t live_bytes = base.FullBytes();
  if (changelog) {
    // The log of the load is not live state: the materialization's files are.
    live_bytes = 0;
    for (const auto& b : base.backends) {
      for (const auto& f : b.files) live_bytes += f.role == StateFileRole::kChangelog ? 0 : f.size;
    }
  }
  coordinator.cleaner().WaitIdle();
  std::set<std::string> seen;
  (void)NewBytes(storage.job_dir(), &seen);
  changed.clear();

  nlohmann::json rows = nlohmann::json::array();
  double written_sum = 0, ideal_sum = 0, worst_ratio = 0, ratio_sum = 0, total_ms_sum = 0;
  std::vector<double> sync_ms;
  auto next_start = Clock::now();
  for (uint64_t c = 1; c <= checkpoints; ++c) {
    for (uint64_t u = 0; u < updates; ++u) put(static_cast<int64_t>(rng() % keys));
    const uint64_t ideal = CompressedSize(std::move(changed), dir + "/changed.sst");
    changed.clear();
    if (changelog) {
      next_start += std::chrono::milliseconds(pace_ms);
      std::this_thread::sleep_until(next_start);
    }
    const auto start = Clock::now();
    sync_ms.push_back(0);
    const CheckpointMetadata meta = take(CheckpointOptions::Checkpoint(), &sync_ms.back());
    const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    coordinator.cleaner().WaitIdle();  // measure the directory as consolidated
    const DirFigures d = Walk(storage.job_dir());
    const double ratio = static_cast<double>(d.bytes) / static_cast<double>(live_bytes);
    // Changelog: what reached the storage since the last checkpoint, materializations included.
    const uint64_t written =
        changelog ? NewBytes(storage.job_dir(), &seen) : meta.CheckpointedBytes();
    written_sum += static_cast<double>(written);
    ideal_sum += static_cast<double>(ideal);
    worst_ratio = std::max(worst_ratio, ratio);
    ratio_sum += ratio;
    total_ms_sum += total_ms;
    rows.push_back({{"checkpoint", c},
                    {"written_bytes", written},
                    {"changed_compressed_bytes", ideal},
                    {"full_bytes", meta.FullBytes()},
                    {"dir_bytes", d.bytes},
                    {"dir_files", d.files},
                    {"shared_files", d.shared_files},
                    {"dir_to_live", ratio},
                    {"sync_ms", sync_ms.back()},
                    {"total_ms", total_ms}});
  }
  const double n = static_cast<double>(checkpoints);
  uint64_t materializations = 0;
  if (changelog)
    materializations = static_cast<ChangelogKeyedStateBackend*>(backend)->materializations();
  std::printf(
      "steady state: %llu %s checkpoints of %llu keys x %llu-byte values, %llu "
      "updates between checkpoints, %d retained\n",
      (unsigned long long)checkpoints, changelog ? "changelog" : "incremental",
      (unsigned long long)keys, (unsigned long long)value_bytes, (unsigned long long)updates,
      retained);
  if (changelog) {
    std::printf(
        "materializations: %llu (every %s, the first at the base), checkpoints %d ms apart\n",
        (unsigned long long)materializations, materialize_interval.c_str(), pace_ms);
  }
  std::printf(
      "bytes written per checkpoint: %.2f MiB on average, %.2fx the compressed changed "
      "records (%.2f MiB)\n",
      written_sum / n / 1048576, written_sum / ideal_sum, ideal_sum / n / 1048576);
  std::printf("checkpoint directory / live state: %.2f on average, %.2f at worst\n", ratio_sum / n,
              worst_ratio);
  std::sort(sync_ms.begin(), sync_ms.end());
  const double sync_p99 = sync_ms[std::min(sync_ms.size() - 1, sync_ms.size() * 99 / 100)];
  std::printf("total time per checkpoint: %.1f ms on average; synchronous part p99 %.2f ms\n",
              total_ms_sum / n, sync_p99);
  if (!json_path.empty()) {
    std::ofstream(json_path)
        << nlohmann::json{{"mode", changelog ? "changelog" : "incremental"},
                          {"materialize_interval", changelog ? materialize_interval : ""},
                          {"materializations", materializations},
                          {"pace_ms", changelog ? pace_ms : 0},
                          {"keys", keys},
                          {"value_bytes", value_bytes},
                          {"updates", updates},
                          {"retained", retained},
                          {"written_to_changed", written_sum / ideal_sum},
                          {"dir_to_live_avg", ratio_sum / n},
                          {"dir_to_live_max", worst_ratio},
                          {"sync_ms_p99", sync_p99},
                          {"total_ms_avg", total_ms_sum / n},
                          {"async_flush", tuning.async_flush},
                          {"compaction",
                           tuning.compaction_style == RocksDbCompactionStyle::kUniversal
                               ? "universal"
                               : "level"},
                          {"l0_trigger", tuning.level0_file_num_compaction_trigger},
                          {"size_amp", tuning.max_size_amplification_percent},
                          {"checkpoints", rows}}
               .dump(1)
        << "\n";
  }
  coordinator.cleaner().WaitIdle();
  strategy.reset();
  made.reset();
  rocksdb.reset();
  writer.reset();
  fs::remove_all(dir);
  return 0;
}
