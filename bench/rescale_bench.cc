// rescale_bench: how long restoring a checkpoint at another parallelism takes, against restoring
// the same checkpoint at the parallelism it was taken with.
//
//   rescale_bench [--state-mib M] [--value-bytes B] [--dir D] [--json FILE]
//
// For an operator that ran at 2 and at 4 subtasks (RocksDB backends holding M MiB of values in
// all, fully compacted as a long-running job's state mostly is), takes an incremental checkpoint
// and a full one of the same state, then restores each at the old parallelism and at the others
// (2 -> 2, 2 -> 4; 4 -> 4, 4 -> 2, 4 -> 3): every new subtask's backend is made from the handles
// sharing key groups with its range, one after another as the runtime builds its tasks, and the
// time until all are open is measured. A rescaled restore is made twice: with the rows it reads
// written into SST files and ingested (weir's default), and through write batches. Printed, not
// asserted.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.h"
#include "common/thread_pool.h"
#include "io/file_system.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_options.h"
#include "state/state_backends.h"

namespace {

using namespace weir;
using bench::Clock;
using bench::Seconds;
namespace fs = std::filesystem;

constexpr int kMaxParallelism = 128;

void Check(const Status& s, const std::string& what) { bench::Check("rescale_bench", s, what); }

using Backends = std::vector<std::unique_ptr<CheckpointableKeyedStateBackend>>;

class Bench {
 public:
  Bench(std::string dir, uint64_t state_bytes, uint64_t value_bytes)
      : dir_(std::move(dir)), state_bytes_(state_bytes), value_bytes_(value_bytes) {}

  // `parallelism` backends, empty or restored from `handles` (those overlapping each range).
  Backends Make(int parallelism, bool incremental, bool ingest,
                const std::vector<KeyedStateHandle>* handles, uint64_t checkpoint_id) {
    Configuration config;
    Check(config.Set(config::kIncremental, incremental ? "true" : "false"), "config");
    Check(config.Set(config::kIngestRestore, ingest ? "true" : "false"), "config");
    Backends out;
    for (int i = 0; i < parallelism; ++i) {
      KeyedStateBackendParameters p;
      p.backend_id = "op_" + std::to_string(i);
      p.local_dir = dir_ + "/local/" + std::to_string(made_++);
      p.max_parallelism = kMaxParallelism;
      p.key_group_range = KeyGroupRange::ForSubtask(kMaxParallelism, parallelism, i);
      p.config = &config;
      p.checkpoint_storage = &*storage_;
      p.io_pool = &pool_;
      std::optional<KeyedStateRestore> restore;
      if (handles != nullptr) {
        std::vector<KeyedStateHandle> overlapping;
        for (const auto& h : *handles) {
          if (!h.key_group_range.Intersect(p.key_group_range).empty()) overlapping.push_back(h);
        }
        // Claimed: what the runtime does when a job resumes its own checkpoint.
        restore.emplace(KeyedStateRestore{&*storage_, checkpoint_id, overlapping, true});
      }
      auto made = CreateKeyedStateBackend("rocksdb", p, restore ? &*restore : nullptr);
      Check(made.status(), "backend " + p.backend_id);
      out.push_back(std::move(made).value());
    }
    return out;
  }

  void Prepare() {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    storage_.emplace(CheckpointStorage::ForJob(NewPosixFileSystem(), dir_ + "/checkpoints", "job"));
    Check(storage_->Initialize(), "checkpoint storage");
  }

  // Fills `backends` with state_bytes of values over keys 0..n-1, each key in its owner.
  void Fill(Backends& backends) {
    const uint64_t keys = state_bytes_ / value_bytes_;
    std::vector<ValueState<std::string>*> states;
    for (auto& b : backends) {
      states.push_back(*b->GetValueState(ValueStateDescriptor<std::string>{"value"}));
    }
    std::string value(value_bytes_, 'v');
    const int parallelism = static_cast<int>(backends.size());
    for (uint64_t k = 0; k < keys; ++k) {
      std::string bytes;
      DefaultSerializer<uint64_t>()->Serialize(k, &bytes);
      const int group = AssignToKeyGroup(bytes, kMaxParallelism);
      const auto owner =
          static_cast<size_t>(SubtaskForKeyGroup(kMaxParallelism, parallelism, group));
      bench::FillIncompressible(value, k * 131);
      Check(backends[owner]->SetCurrentKey(bytes), "set key");
      Check(states[owner]->Update(value), "put");
    }
    for (auto& b : backends) {
      Check(static_cast<RocksDbKeyedStateBackend&>(*b).CompactFully(), "compact");
    }
  }

  std::vector<KeyedStateHandle> Checkpoint(Backends& backends, uint64_t id) {
    std::vector<KeyedStateHandle> handles;
    for (auto& b : backends) {
      auto part = b->Snapshot(id);
      Check(part.status(), "snapshot");
      auto handle = (*part)->Run();
      Check(handle.status(), "snapshot upload");
      handles.push_back(*handle);
    }
    return handles;
  }

  // Seconds until `parallelism` backends are restored, then closes them.
  double Restore(int parallelism, bool incremental, bool ingest,
                 const std::vector<KeyedStateHandle>& handles, uint64_t id) {
    fs::remove_all(dir_ + "/local");
    const auto start = Clock::now();
    Backends restored = Make(parallelism, incremental, ingest, &handles, id);
    const double s = Seconds(start);
    restored.clear();
    fs::remove_all(dir_ + "/local");
    return s;
  }

 private:
  std::string dir_;
  uint64_t state_bytes_;
  uint64_t value_bytes_;
  std::optional<CheckpointStorage> storage_;
  ThreadPool pool_{4};
  int made_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t state_mib = 1024, value_bytes = 1000;
  std::string dir = (fs::temp_directory_path() / "weir-rescale-bench").string();
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--state-mib") {
      state_mib = std::stoull(argv[i + 1]);
    } else if (flag == "--value-bytes") {
      value_bytes = std::stoull(argv[i + 1]);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--json") {
      json_path = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: rescale_bench [--state-mib M] [--value-bytes B] [--dir D] "
                   "[--json FILE]\n");
      return 2;
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  std::printf("%-12s %-6s %-12s %10s %10s\n", "checkpoint", "from", "to", "ms", "vs same");
  const std::map<int, std::vector<int>> targets = {{2, {2, 4}}, {4, {4, 2, 3}}};
  for (const auto& [old_p, new_ps] : targets) {
    Bench bench(dir, state_mib << 20, value_bytes);
    bench.Prepare();
    // The state at old_p, checkpointed incrementally (1) and, through a restore at old_p with
    // full snapshots, fully (2).
    std::vector<KeyedStateHandle> incremental, full;
    {
      Backends live = bench.Make(old_p, true, true, nullptr, 0);
      bench.Fill(live);
      incremental = bench.Checkpoint(live, 1);
    }
    {
      Backends again = bench.Make(old_p, false, true, &incremental, 1);
      full = bench.Checkpoint(again, 2);
    }
    for (const bool is_incremental : {true, false}) {
      const auto& handles = is_incremental ? incremental : full;
      const uint64_t id = is_incremental ? 1 : 2;
      const char* kind = is_incremental ? "incremental" : "full";
      double same_ms = 0;
      for (int new_p : new_ps) {
        for (const bool ingest : {true, false}) {
          // At an unchanged incremental parallelism nothing is read: one way only.
          if (new_p == old_p && is_incremental && !ingest) continue;
          const double ms = 1e3 * bench.Restore(new_p, is_incremental, ingest, handles, id);
          if (new_p == old_p && ingest) same_ms = ms;
          const std::string to = std::to_string(new_p) + (new_p == old_p && is_incremental ? ""
                                                          : ingest ? " ingest"
                                                                   : " batches");
          std::printf("%-12s %-6d %-12s %10.1f %9.2fx\n", kind, old_p, to.c_str(), ms,
                      same_ms > 0 ? ms / same_ms : 0.0);
          std::fflush(stdout);
          rows.push_back({{"checkpoint", kind},
                          {"from", old_p},
                          {"to", new_p},
                          {"ingest", ingest},
                          {"ms", ms},
                          {"vs_same", same_ms > 0 ? ms / same_ms : 0.0}});
        }
      }
    }
  }
  fs::remove_all(dir);
  if (!json_path.empty()) {
    std::ofstream(json_path) << nlohmann::json{{"state_mib", state_mib},
                                               {"value_bytes", value_bytes},
                                               {"restores", rows}}
                                    .dump(2)
                             << "\n";
  }
  return 0;
}
