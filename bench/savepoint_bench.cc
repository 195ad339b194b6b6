// savepoint_bench: what taking and restoring a savepoint costs in each format, beside a full and
// an incremental checkpoint of the same state.
//
//   savepoint_bench [--state-mib M] [--value-bytes B] [--parallelism P] [--dir D] [--json FILE]
//
// P RocksDB backends hold M MiB of incompressible values in all, fully compacted. Each snapshot
// is taken the way the runtime takes it: every backend's synchronous part, then the asynchronous
// parts in parallel (one thread per backend); the time until the last one finished is measured,
// with the bytes written and the resulting MiB/s. Then each is restored (P new backends, made one
// after another as the runtime builds its tasks) and the time until all are open measured:
// savepoints not owned (what `weir run -s <savepoint>` does), checkpoints claimed. The canonical
// savepoint is also restored into the hashmap backend. The limit beside them: the disk's
// sequential write bandwidth with fsync, writing as many bytes as the state holds. Printed, not
// asserted.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.h"
#include "common/thread_pool.h"
#include "io/file_system.h"
#include "snapshot/checkpoint_options.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_options.h"
#include "state/state_backends.h"

namespace {

using namespace weir;
using bench::Clock;
using bench::Seconds;
namespace fs = std::filesystem;

constexpr int kMaxParallelism = 128;

void Check(const Status& s, const std::string& what) { bench::Check("savepoint_bench", s, what); }

using Backends = std::vector<std::unique_ptr<CheckpointableKeyedStateBackend>>;

// Seconds to write `bytes` (8 MiB writes) to a new file in `dir` and fsync it.
double DiskWriteSeconds(const std::string& dir, uint64_t bytes) {
  fs::create_directories(dir);
  const std::string path = dir + "/disk-limit";
  std::string chunk(8 << 20, '\0');
  bench::FillIncompressible(chunk, 0);
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Check(Status::IOError("cannot create " + path), "disk limit");
  for (uint64_t written = 0; written < bytes; written += chunk.size()) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
      Check(Status::IOError("short write to " + path), "disk limit");
    }
  }
  if (::fsync(fd) != 0) Check(Status::IOError("fsync of " + path), "disk limit");
  ::close(fd);
  const double s = Seconds(start);
  fs::remove(path);
  return s;
}

struct Taken {
  std::vector<KeyedStateHandle> handles;
  double seconds = 0;
  uint64_t bytes = 0;
};

class Bench {
 public:
  Bench(std::string dir, uint64_t state_bytes, uint64_t value_bytes, int parallelism)
      : dir_(std::move(dir)),
        state_bytes_(state_bytes),
        value_bytes_(value_bytes),
        parallelism_(parallelism) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    storage_.emplace(CheckpointStorage::ForJob(NewPosixFileSystem(), dir_ + "/checkpoints", "job"));
    Check(storage_->Initialize(), "checkpoint storage");
  }

  Backends Make(const std::string& backend, bool incremental, const CheckpointStorage* from,
                const std::vector<KeyedStateHandle>* handles, uint64_t id, bool owned) {
    Configuration config;
    Check(config.Set(config::kIncremental, incremental ? "true" : "false"), "config");
    Backends out;
    for (int i = 0; i < parallelism_; ++i) {
      KeyedStateBackendParameters p;
      p.backend_id = "op_" + std::to_string(i);
      p.local_dir = dir_ + "/local/" + std::to_string(made_++);
      p.max_parallelism = kMaxParallelism;
      p.key_group_range = KeyGroupRange::ForSubtask(kMaxParallelism, parallelism_, i);
      p.config = &config;
      p.checkpoint_storage = &*storage_;
      p.io_pool = &pool_;
      std::optional<KeyedStateRestore> restore;
      if (handles != nullptr) restore.emplace(KeyedStateRestore{from, id, {(*handles)[i]}, owned});
      auto made = CreateKeyedStateBackend(backend, p, restore ? &*restore : nullptr);
      Check(made.status(), "backend " + p.backend_id);
      out.push_back(std::move(made).value());
    }
    return out;
  }

  // Writes `fraction` of the keys (all of them at 1.0) with new values.
  void Write(Backends& backends, double fraction, uint64_t round) {
    const uint64_t keys = state_bytes_ / value_bytes_;
    const uint64_t step = static_cast<uint64_t>(1.0 / fraction);
    std::vector<ValueState<std::string>*> states;
    for (auto& b : backends) {
      states.push_back(*b->GetValueState(ValueStateDescriptor<std::string>{"value"}));
    }
    std::string value(value_bytes_, 'v');
    for (uint64_t k = 0; k < keys; k += step) {
      std::string bytes;
      DefaultSerializer<uint64_t>()->Serialize(k, &bytes);
      const int group = AssignToKeyGroup(bytes, kMaxParallelism);
      const auto owner =
          static_cast<size_t>(SubtaskForKeyGroup(kMaxParallelism, parallelism_, group));
      bench::FillIncompressible(value, k * 131 + round * 7919);
      Check(backends[owner]->SetCurrentKey(bytes), "set key");
      Check(states[owner]->Update(value), "put");
    }
  }

  void Compact(Backends& backends) {
    for (auto& b : backends) {
      Check(static_cast<RocksDbKeyedStateBackend&>(*b).CompactFully(), "compact");
    }
  }

  // The synchronous parts one after another, then the asynchronous parts in parallel.
  Taken Snapshot(Backends& backends, uint64_t id, const CheckpointOptions& options) {
    Taken t;
    const auto start = Clock::now();
    std::vector<std::unique_ptr<AsyncSnapshotPart>> parts;
    for (auto& b : backends) {
      auto part = b->Snapshot(id, options);
      Check(part.status(), "snapshot");
      parts.push_back(std::move(part).value());
    }
    std::vector<std::future<Result<KeyedStateHandle>>> running;
    for (auto& part : parts) {
      running.push_back(std::async(std::launch::async, [&part] { return part->Run(); }));
    }
    for (auto& r : running) {
      auto handle = r.get();
      Check(handle.status(), "snapshot upload");
      t.bytes += handle->checkpointed_bytes;
      t.handles.push_back(*handle);
    }
    t.seconds = Seconds(start);
    for (auto& b : backends) b->NotifyCheckpointComplete(id);
    return t;
  }

  double Restore(const std::string& backend, const CheckpointStorage& from,
                 const std::vector<KeyedStateHandle>& handles, uint64_t id, bool owned) {
    fs::remove_all(dir_ + "/local");
    const auto start = Clock::now();
    Backends restored = Make(backend, true, &from, &handles, id, owned);
    const double s = Seconds(start);
    restored.clear();
    fs::remove_all(dir_ + "/local");
    return s;
  }

  const CheckpointStorage& storage() const { return *storage_; }
  std::shared_ptr<const CheckpointStorage> SavepointStorage(const std::string& name) const {
    return std::make_shared<const CheckpointStorage>(
        CheckpointStorage::ForSavepoint(NewPosixFileSystem(), dir_ + "/savepoints/" + name));
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  uint64_t state_bytes_;
  uint64_t value_bytes_;
  int parallelism_;
  std::optional<CheckpointStorage> storage_;
  ThreadPool pool_{4};
  int made_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t state_mib = 1024, value_bytes = 1000;
  int parallelism = 2;
  std::string dir = (fs::temp_directory_path() / "weir-savepoint-bench").string();
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--state-mib") {
      state_mib = std::stoull(argv[i + 1]);
    } else if (flag == "--value-bytes") {
      value_bytes = std::stoull(argv[i + 1]);
    } else if (flag == "--parallelism") {
      parallelism = std::stoi(argv[i + 1]);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--json") {
      json_path = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: savepoint_bench [--state-mib M] [--value-bytes B] [--parallelism P] "
                   "[--dir D] [--json FILE]\n");
      return 2;
    }
  }
  const double disk_s = DiskWriteSeconds(dir + "-disk", state_mib << 20);
  fs::remove_all(dir + "-disk");
  std::printf("limit   %-34s %9.0f ms %9.1f MiB %8.1f MiB/s\n", "disk write + fsync", 1e3 * disk_s,
              static_cast<double>(state_mib), state_mib / disk_s);
  Bench bench(dir, state_mib << 20, value_bytes, parallelism);
  Backends live = bench.Make("rocksdb", true, nullptr, nullptr, 0, false);
  bench.Write(live, 1.0, 0);
  bench.Compact(live);

  nlohmann::json take = nlohmann::json::array(), restore = nlohmann::json::array();
  const auto report_take = [&](const char* what, const Taken& t) {
    const double mib = static_cast<double>(t.bytes) / (1 << 20);
    std::printf("take    %-34s %9.0f ms %9.1f MiB %8.1f MiB/s\n", what, 1e3 * t.seconds, mib,
                mib / t.seconds);
    std::fflush(stdout);
    take.push_back({{"snapshot", what}, {"ms", 1e3 * t.seconds}, {"mib", mib}});
  };
  const auto report_restore = [&](const char* what, double seconds) {
    std::printf("restore %-34s %9.0f ms\n", what, 1e3 * seconds);
    std::fflush(stdout);
    restore.push_back({{"snapshot", what}, {"ms", 1e3 * seconds}});
  };

  // Checkpoints of the job's history: the first incremental one uploads everything, the next
  // one after 1% of the keys changed only what changed; a full one writes key-group streams.
  const Taken first = bench.Snapshot(live, 1, CheckpointOptions::Checkpoint());
  report_take("incremental checkpoint (first)", first);
  bench.Write(live, 0.01, 1);
  const Taken incremental = bench.Snapshot(live, 2, CheckpointOptions::Checkpoint());
  report_take("incremental checkpoint (1% changed)", incremental);
  const Taken full = bench.Snapshot(live, 3, CheckpointOptions::FullCheckpoint());
  report_take("full checkpoint (all SSTs again)", full);
  const auto canonical_dir = bench.SavepointStorage("canonical");
  const Taken canonical = bench.Snapshot(
      live, 4, CheckpointOptions::Savepoint(SavepointFormat::kCanonical, canonical_dir));
  report_take("canonical savepoint", canonical);
  const auto native_dir = bench.SavepointStorage("native");
  const Taken native =
      bench.Snapshot(live, 5, CheckpointOptions::Savepoint(SavepointFormat::kNative, native_dir));
  report_take("native savepoint", native);
  live.clear();

  report_restore("incremental checkpoint (claimed)",
                 bench.Restore("rocksdb", bench.storage(), incremental.handles, 2, true));
  report_restore("canonical savepoint -> rocksdb",
                 bench.Restore("rocksdb", *canonical_dir, canonical.handles, 4, false));
  report_restore("canonical savepoint -> hashmap",
                 bench.Restore("hashmap", *canonical_dir, canonical.handles, 4, false));
  report_restore("native savepoint -> rocksdb",
                 bench.Restore("rocksdb", *native_dir, native.handles, 5, false));
  fs::remove_all(dir);
  if (!json_path.empty()) {
    std::ofstream(json_path) << nlohmann::json{{"state_mib", state_mib},
                                               {"value_bytes", value_bytes},
                                               {"parallelism", parallelism},
                                               {"disk_mib_per_s", state_mib / disk_s},
                                               {"take", take},
                                               {"restore", restore}}
                                    .dump(2)
                             << "\n";
  }
  return 0;
}
