// s3_bench: the same keyed state checkpointed to local disk and to S3 (a Ceph RADOS Gateway this
// program starts with scripts/rgw.sh, or the one at WEIR_TEST_RGW_ENDPOINT), in one run:
// incremental checkpoint after a change of --change-percent of the keys, full checkpoint, and
// restore from each, with time and bytes; plus the raw bandwidth of the same S3 client (PUT of
// one object, multipart with parallel parts, ranged parallel GET) and of the local disk, the
// limits of each storage. Printed, never asserted.
//
//   s3_bench [--keys N] [--value-bytes B] [--change-percent P] [--quick]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "checkpoint/checkpoint_coordinator.h"
#include "common/thread_pool.h"
#include "io/file_systems.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/rgw_server.h"
#include "testing/temp_dir.h"

namespace {

using namespace weir;
using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

struct Row {
  std::string storage, what;
  double ms = 0;
  uint64_t bytes = 0;
};

void Print(const Row& r) {
  std::printf("%-6s %-34s %10.1f %14llu %10.1f\n", r.storage.c_str(), r.what.c_str(), r.ms,
              static_cast<unsigned long long>(r.bytes),
              r.ms > 0 ? static_cast<double>(r.bytes) / (1 << 20) / (r.ms / 1e3) : 0.0);
  std::fflush(stdout);
}

// Checkpoints and restores `backend` on `fs` under `root`.
void RunOn(const std::string& name, std::shared_ptr<FileSystem> fs, const std::string& root,
           RocksDbKeyedStateBackend& backend, const std::function<void()>& change,
           const std::string& local) {
  ThreadPool pool(4);
  const auto inc_storage = CheckpointStorage::ForJob(fs, root + "/inc", "job");
  const auto full_storage = CheckpointStorage::ForJob(fs, root + "/full", "job");
  Check(inc_storage.Initialize(), "init");
  Check(full_storage.Initialize(), "init");
  IncrementalSnapshotStrategy incremental(backend, inc_storage, pool);
  CheckpointCoordinator coordinator(inc_storage, CoordinatorOptions{"job", 2, {}});
  Check(coordinator.Recover().status(), "recover");
  coordinator.AddListener(&incremental);
  auto start = Clock::now();
  auto first = testing::TakeCheckpoint(coordinator, {{&backend, &incremental}});
  Check(first.status(), "first incremental");
  Print({name, "first incremental (everything)", Ms(start), first->CheckpointedBytes()});
  change();
  start = Clock::now();
  auto second = testing::TakeCheckpoint(coordinator, {{&backend, &incremental}});
  Check(second.status(), "incremental");
  Print({name, "incremental after the change", Ms(start), second->CheckpointedBytes()});
  FullSnapshotStrategy full(backend, full_storage);
  CheckpointCoordinator full_coordinator(full_storage, CoordinatorOptions{"job", 1, {}});
  Check(full_coordinator.Recover().status(), "recover");
  start = Clock::now();
  auto full_meta =
      testing::TakeCheckpoint(full_coordinator, {{&backend, &full}}, CheckpointKind::kFull);
  Check(full_meta.status(), "full");
  Print({name, "full", Ms(start), full_meta->CheckpointedBytes()});

  RocksDbBackendOptions o;
  o.backend_id = "bench_0";
  o.local_dir = local + "/restore-inc";
  start = Clock::now();
  auto restored =
      RestoreKeyedStateBackend(inc_storage, second->checkpoint_id, second->backends[0], o, &pool);
  Check(restored.status(), "restore incremental");
  Print({name, "restore from the incremental", Ms(start), second->FullBytes()});
  restored->reset();
  o.local_dir = local + "/restore-full";
  start = Clock::now();
  auto restored_full = RestoreKeyedStateBackend(full_storage, full_meta->checkpoint_id,
                                                full_meta->backends[0], o, &pool);
  Check(restored_full.status(), "restore full");
  Print({name, "restore from the full", Ms(start), full_meta->FullBytes()});
  restored_full->reset();
  coordinator.cleaner().WaitIdle();
  full_coordinator.cleaner().WaitIdle();
  Check(fs->DeleteRecursively(root), "cleanup");
}

// Raw bandwidth of `fs`: one file of `bytes` written (multipart with parallel parts on S3) and
// read back (parallel ranged GETs on S3), and a single-request 8 MiB object.
void Bandwidth(const std::string& name, FileSystem& fs, const std::string& root, uint64_t bytes) {
  Check(fs.CreateDirs(root), "dir");
  std::string data(bytes, '\0');
  std::mt19937_64 rng(1);
  for (auto& c : data) c = static_cast<char>(rng());
  auto start = Clock::now();
  {
    auto f = fs.NewWritableFile(root + "/bandwidth.bin");
    Check(f.status(), "open");
    for (uint64_t at = 0; at < bytes; at += 4 << 20) {
      Check((*f)->Append(std::string_view(data).substr(at, 4 << 20)), "append");
    }
    Check((*f)->Sync(), "sync");
    Check((*f)->Close(), "close");
  }
  Print({name, "write " + std::to_string(bytes >> 20) + " MiB (+ sync)", Ms(start), bytes});
  start = Clock::now();
  {
    auto f = fs.NewReadableFile(root + "/bandwidth.bin");
    Check(f.status(), "open");
    std::string out;
    for (uint64_t at = 0; at < bytes; at += 16 << 20)
      Check((*f)->ReadAt(at, 16 << 20, &out), "read");
  }
  Print({name, "read " + std::to_string(bytes >> 20) + " MiB (16 MiB reads)", Ms(start), bytes});
  start = Clock::now();
  Check(fs.PublishAtomically(root + "/single.bin", std::string_view(data).substr(0, 8 << 20)),
        "put");
  Print({name, "one 8 MiB object in one request", Ms(start), 8 << 20});
  Check(fs.DeleteRecursively(root), "cleanup");
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t keys = 1000000, value_bytes = 100;
  double change_percent = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (flag == "--keys") {
      keys = std::stoull(next());
    } else if (flag == "--value-bytes") {
      value_bytes = std::stoull(next());
    } else if (flag == "--change-percent") {
      change_percent = std::stod(next());
    } else if (flag == "--quick") {
      keys = 200000;
    } else {
      std::fprintf(stderr,
                   "usage: s3_bench [--keys N] [--value-bytes B] [--change-percent P] "
                   "[--quick]\n");
      return 2;
    }
  }
  std::string error;
  testing::RgwServer* rgw = testing::SharedRgw(&error);
  if (rgw == nullptr) {
    std::fprintf(stderr, "no Ceph RGW: %s\n", error.c_str());
    return 1;
  }
  Configuration config;
  Check(rgw->Configure(config), "s3 config");
  const std::string s3_root = "s3://" + rgw->endpoint().bucket + "/s3-bench";
  auto s3_fs = FileSystemForPath(s3_root, config);
  Check(s3_fs.status(), "s3");
  testing::TempDir tmp;
  auto local_fs = NewPosixFileSystem();

  RocksDbBackendOptions o;
  o.backend_id = "bench_0";
  o.local_dir = tmp.Sub("live");
  auto backend = std::move(RocksDbKeyedStateBackend::Open(o)).value();
  auto state = *backend->GetValueState(ValueStateDescriptor<std::string>{"v"});
  auto ints = DefaultSerializer<int64_t>();
  std::mt19937_64 rng(42);
  std::string value(value_bytes, ' ');
  const auto put = [&](int64_t k) {
    for (auto& c : value) c = static_cast<char>('a' + rng() % 26);
    Check(backend->SetCurrentKey(*ints, k), "key");
    Check(state->Update(value), "put");
  };
  for (uint64_t k = 0; k < keys; ++k) put(static_cast<int64_t>(k));
  const uint64_t changed = static_cast<uint64_t>(static_cast<double>(keys) * change_percent / 100);
  const auto change = [&] {
    for (uint64_t i = 0; i < changed; ++i) put(static_cast<int64_t>(rng() % keys));
  };

  std::printf(
      "s3_bench: %llu keys x %llu-byte values, %.2f%% of the keys changed between the "
      "incremental checkpoints; S3 = Ceph RGW %s (memstore), local = %s\n",
      static_cast<unsigned long long>(keys), static_cast<unsigned long long>(value_bytes),
      change_percent, rgw->endpoint().endpoint.c_str(), tmp.path().c_str());
  std::printf("%-6s %-34s %10s %14s %10s\n", "where", "what", "ms", "bytes", "MiB/s");
  RunOn("local", local_fs, tmp.Sub("checkpoints"), *backend, change, tmp.path());
  RunOn("s3", *s3_fs, s3_root, *backend, change, tmp.path());
  Bandwidth("local", *local_fs, tmp.Sub("bandwidth"), 256 << 20);
  Bandwidth("s3", **s3_fs, s3_root + "/bandwidth", 256 << 20);
  return 0;
}
