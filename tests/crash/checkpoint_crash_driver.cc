// checkpoint_crash_driver: a process that keeps keyed state and checkpoints it round after round,
// for crash tests to kill (WEIR_FAILPOINTS=<point>=crash@n) and restart.
//
//   checkpoint_crash_driver --dir D --rounds N [--full] [--seed S]   run (resume) to round N
//   checkpoint_crash_driver --dir D --verify [--seed S]              check the latest checkpoint
//
// Round r changes a deterministic set of keys and records r in state; a checkpoint follows each
// round. On start the driver restores the latest completed checkpoint (claiming it: the next
// checkpoint builds on it) and continues after the round found there. --verify restores the
// latest completed checkpoint, recomputes the expected state of its round and compares, then
// checks every file of every completed checkpoint; exit 0 only if all holds. Prints one line.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "checkpoint/checkpoint_coordinator.h"
#include "checkpoint/checkpoint_verifier.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"

namespace {

using namespace weir;
using Model = std::map<int64_t, std::string>;

constexpr int kKeys = 3000;
constexpr int64_t kRoundKey = -1;  // holds the last applied round

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What round r does to key k: nothing, a delete, or a new value.
enum class Change { kNone, kDelete, kPut };
Change ChangeOf(uint64_t seed, int round, int64_t k) {
  const uint64_t h = Mix(seed * 1000003 + static_cast<uint64_t>(round) * 7919 + k);
  if (round == 1) return Change::kPut;
  if (h % 20 == 0) return Change::kDelete;
  return h % 5 == 0 ? Change::kPut : Change::kNone;
}
std::string ValueOf(int round, int64_t k) {
  return std::to_string(round) + ":" + std::to_string(k) + std::string(60, 'x');
}

Model Expected(uint64_t seed, int rounds) {
  Model m;
  for (int r = 1; r <= rounds; ++r) {
    for (int64_t k = 0; k < kKeys; ++k) {
      const Change c = ChangeOf(seed, r, k);
      if (c == Change::kDelete) m.erase(k);
      if (c == Change::kPut) m[k] = ValueOf(r, k);
    }
  }
  if (rounds > 0) m[kRoundKey] = std::to_string(rounds);
  return m;
}

Status ApplyRound(RocksDbKeyedStateBackend& b, uint64_t seed, int round) {
  auto ints = DefaultSerializer<int64_t>();
  WEIR_ASSIGN_OR_RETURN(auto* v, b.GetValueState(ValueStateDescriptor<std::string>{"v"}));
  for (int64_t k = 0; k < kKeys; ++k) {
    const Change c = ChangeOf(seed, round, k);
    if (c == Change::kNone) continue;
    WEIR_RETURN_IF_ERROR(b.SetCurrentKey(*ints, k));
    WEIR_RETURN_IF_ERROR(c == Change::kDelete ? v->Clear() : v->Update(ValueOf(round, k)));
  }
  WEIR_RETURN_IF_ERROR(b.SetCurrentKey(*ints, kRoundKey));
  return v->Update(std::to_string(round));
}

Result<Model> ReadAll(RocksDbKeyedStateBackend& b) {
  auto ints = DefaultSerializer<int64_t>();
  WEIR_ASSIGN_OR_RETURN(auto* v, b.GetValueState(ValueStateDescriptor<std::string>{"v"}));
  WEIR_ASSIGN_OR_RETURN(auto keys, b.GetKeys("v", *ints));
  Model m;
  for (int64_t k : keys) {
    WEIR_RETURN_IF_ERROR(b.SetCurrentKey(*ints, k));
    WEIR_ASSIGN_OR_RETURN(auto value, v->Value());
    if (value) m[k] = *value;
  }
  return m;
}

struct Args {
  std::string dir;
  int rounds = 0;
  bool full = false;
  bool verify = false;
  uint64_t seed = 1;
};

struct Restored {
  std::unique_ptr<RocksDbKeyedStateBackend> backend;
  std::optional<CheckpointMetadata> from;
};

Result<Restored> OpenLatest(const CheckpointCoordinator& coordinator, const std::string& local_dir,
                            ThreadPool& pool) {
  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = local_dir;
  Restored r;
  r.from = coordinator.Latest();
  if (!r.from) {
    WEIR_ASSIGN_OR_RETURN(r.backend, RocksDbKeyedStateBackend::Open(o));
    return r;
  }
  WEIR_ASSIGN_OR_RETURN(r.backend,
                        RestoreKeyedStateBackend(coordinator.storage(), r.from->checkpoint_id,
                                                 r.from->backends.at(0), o, &pool));
  return r;
}

Status Run(const Args& a) {
  const auto storage =
      CheckpointStorage::ForJob(NewPosixFileSystem(), a.dir + "/ckpt", "crash-job");
  CheckpointCoordinator coordinator(storage, CoordinatorOptions{"crash-job", 2, {}});
  WEIR_RETURN_IF_ERROR(coordinator.Recover().status());
  ThreadPool pool(4);
  WEIR_ASSIGN_OR_RETURN(Restored restored, OpenLatest(coordinator, a.dir + "/local", pool));
  auto& backend = *restored.backend;
  WEIR_ASSIGN_OR_RETURN(Model state, ReadAll(backend));
  const int start = state.count(kRoundKey) ? std::stoi(state[kRoundKey]) : 0;

  if (a.verify) {
    if (state != Expected(a.seed, start)) {
      return Status::Corruption("restored state differs from the expected state of round " +
                                std::to_string(start));
    }
    coordinator.cleaner().WaitIdle();
    WEIR_ASSIGN_OR_RETURN(VerifyReport report, VerifyJobDirectory(storage));
    if (!report.healthy()) {
      return Status::Corruption(std::to_string(report.missing.size()) + " missing, " +
                                std::to_string(report.corrupt.size()) + " corrupt files");
    }
    std::printf("verified round %d from checkpoint %llu; %zu orphans\n", start,
                static_cast<unsigned long long>(restored.from ? restored.from->checkpoint_id : 0),
                report.orphans.size());
    return Status::OK();
  }

  std::unique_ptr<SnapshotStrategy> strategy;
  if (a.full) {
    strategy = std::make_unique<FullSnapshotStrategy>(backend, storage);
  } else {
    auto inc = std::make_unique<IncrementalSnapshotStrategy>(backend, storage, pool);
    if (restored.from)
      inc->SetBaseFromRestore(restored.from->checkpoint_id, restored.from->backends[0]);
    coordinator.AddListener(inc.get());
    strategy = std::move(inc);
  }
  const auto kind = a.full ? CheckpointKind::kFull : CheckpointKind::kIncremental;
  for (int round = start + 1; round <= a.rounds; ++round) {
    WEIR_RETURN_IF_ERROR(ApplyRound(backend, a.seed, round));
    WEIR_RETURN_IF_ERROR(
        testing::TakeCheckpoint(coordinator, {{&backend, strategy.get()}}, kind).status());
  }
  coordinator.cleaner().WaitIdle();
  std::printf("ran rounds %d..%d\n", start + 1, a.rounds);
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dir" && has_value)
      a.dir = argv[++i];
    else if (arg == "--rounds" && has_value)
      a.rounds = std::atoi(argv[++i]);
    else if (arg == "--seed" && has_value)
      a.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--full")
      a.full = true;
    else if (arg == "--verify")
      a.verify = true;
    else {
      std::fprintf(stderr, "checkpoint_crash_driver: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  const Status s = Run(a);
  if (!s.ok()) {
    std::fprintf(stderr, "checkpoint_crash_driver: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
