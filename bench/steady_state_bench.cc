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
//
// The last four set the backend's RocksDB tuning (state.backend.rocksdb.* keys), so that one
// program measures each tuning's effect on the same workload.
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
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

}  // namespace

int main(int argc, char** argv) {
  uint64_t keys = 400000, value_bytes = 200, updates = 40000, checkpoints = 200;
  int retained = 1;
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
    else if (flag == "--quick")
      keys = 100000, updates = 10000, checkpoints = 60;
    else {
      std::fprintf(stderr,
                   "usage: steady_state_bench [--keys N] [--value-bytes B] [--updates U] "
                   "[--checkpoints C] [--retained R] [--dir D] [--json FILE] [--quick] "
                   "[--async-flush 0|1] [--compaction level|universal] [--l0-trigger N] "
                   "[--size-amp PERCENT]\n");
      return 2;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  RocksDbBackendOptions o;
  o.backend_id = "bench_0";
  o.local_dir = dir + "/local";
  o.tuning = tuning;
  auto backend = std::move(RocksDbKeyedStateBackend::Open(o)).value();
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
  Check(backend->CreateNativeCheckpoint(dir + "/settle").status(), "flush");
  fs::remove_all(dir + "/settle");
  Check(backend->WaitForBackgroundWork(), "settle");  // the load's compactions are not updates

  ThreadPool pool(4);
  const auto storage = CheckpointStorage::ForJob(NewPosixFileSystem(), dir + "/checkpoints", "job");
  IncrementalSnapshotStrategy strategy(*backend, storage, pool);
  CheckpointCoordinator coordinator(storage, CoordinatorOptions{"job", retained, {}});
  Check(coordinator.Recover().status(), "recover");
  coordinator.AddListener(&strategy);
  // Every key written once and flushed: the base's files are the live state, compressed, with
  // nothing overwritten in them. Keys and value sizes never change, so neither does that size.
  auto base = testing::TakeCheckpoint(coordinator, {{backend.get(), &strategy}});
  Check(base.status(), "base");
  const uint64_t live_bytes = base->FullBytes();
  changed.clear();

  nlohmann::json rows = nlohmann::json::array();
  double written_sum = 0, ideal_sum = 0, worst_ratio = 0, ratio_sum = 0, total_ms_sum = 0;
  std::vector<double> sync_ms;
  for (uint64_t c = 1; c <= checkpoints; ++c) {
    for (uint64_t u = 0; u < updates; ++u) put(static_cast<int64_t>(rng() % keys));
    const uint64_t ideal = CompressedSize(std::move(changed), dir + "/changed.sst");
    changed.clear();
    const auto start = Clock::now();
    const auto id = *coordinator.StartCheckpoint(CheckpointKind::kIncremental, {"bench_0"}, 0);
    auto part = strategy.SyncPart(id);
    Check(part.status(), "sync part");
    sync_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    auto handle = (*part)->Run();
    Check(handle.status(), "async part");
    auto m = coordinator.Acknowledge(id, *handle, 0);
    Check(m.status(), "acknowledge");
    if (!m->has_value()) Check(Status::Internal("not completed"), "acknowledge");
    const CheckpointMetadata& meta = **m;
    const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    coordinator.cleaner().WaitIdle();  // measure the directory as consolidated
    const DirFigures d = Walk(storage.job_dir());
    const double ratio = static_cast<double>(d.bytes) / static_cast<double>(live_bytes);
    written_sum += static_cast<double>(meta.CheckpointedBytes());
    ideal_sum += static_cast<double>(ideal);
    worst_ratio = std::max(worst_ratio, ratio);
    ratio_sum += ratio;
    total_ms_sum += total_ms;
    rows.push_back({{"checkpoint", c},
                    {"written_bytes", meta.CheckpointedBytes()},
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
  std::printf(
      "steady state: %llu incremental checkpoints of %llu keys x %llu-byte values, %llu "
      "updates between checkpoints, %d retained\n",
      (unsigned long long)checkpoints, (unsigned long long)keys, (unsigned long long)value_bytes,
      (unsigned long long)updates, retained);
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
        << nlohmann::json{{"keys", keys},
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
  backend.reset();
  fs::remove_all(dir);
  return 0;
}
