// state-demo: keyed state in RocksDB, a full checkpoint of it, and a restore, narrated.
//
//   state-demo [DIR]     (default /tmp/weir-demo; wiped first)
//
// Writes several kinds of keyed state for 1000 users, takes full checkpoints 1 and 2 (one with
// writes racing its asynchronous part), restores checkpoint 1 into a fresh backend and shows that
// it holds exactly the state at checkpoint 1. Then `weir checkpoints list DIR/checkpoints` shows
// what is on disk.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "checkpoint/checkpoint_metadata.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "weir/keyed_state_backend.h"

namespace {

using namespace weir;

constexpr int kUsers = 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Die(const Status& s) {
  std::fprintf(stderr, "state-demo: %s\n", s.ToString().c_str());
  return 1;
}

struct Average {
  double sum = 0;
  int64_t count = 0;
};

// The states every backend of this demo registers.
struct DemoStates {
  ValueState<int64_t>* clicks;
  ListState<std::string>* pages;
  MapState<std::string, double>* spend;
  ReducingState<int64_t>* longest;
  AggregatingState<double, double>* average;

  static Result<DemoStates> Register(KeyedStateBackend& b) {
    DemoStates s{};
    WEIR_ASSIGN_OR_RETURN(s.clicks, b.GetValueState(ValueStateDescriptor<int64_t>{"clicks"}));
    WEIR_ASSIGN_OR_RETURN(s.pages, b.GetListState(ListStateDescriptor<std::string>{"pages"}));
    WEIR_ASSIGN_OR_RETURN(s.spend, b.GetMapState(MapStateDescriptor<std::string, double>{"spend"}));
    WEIR_ASSIGN_OR_RETURN(
        s.longest,
        b.GetReducingState(ReducingStateDescriptor<int64_t>{
            "longest", [](const int64_t& a, const int64_t& v) { return std::max(a, v); }}));
    auto average_serializer = MakeSerializer<Average>(
        "Average/v1",
        [](const Average& a, std::string* out) {
          out->append(reinterpret_cast<const char*>(&a), sizeof(a));
        },
        [](std::string_view in, Average* a) {
          if (in.size() != sizeof(Average)) return false;
          std::memcpy(a, in.data(), sizeof(Average));
          return true;
        });
    AggregatingStateDescriptor<double, Average, double> avg{
        "average",
        {[] { return Average{}; },
         [](Average a, const double& v) {
           a.sum += v;
           ++a.count;
           return a;
         },
         [](const Average& a) { return a.count ? a.sum / a.count : 0.0; }},
        average_serializer};
    WEIR_ASSIGN_OR_RETURN(s.average, b.GetAggregatingState(avg));
    return s;
  }
};

std::string User(int i) { return "user-" + std::to_string(i); }

Status WriteRound(KeyedStateBackend& b, DemoStates& s, int round) {
  for (int i = 0; i < kUsers; ++i) {
    WEIR_RETURN_IF_ERROR(b.SetCurrentKey(*DefaultSerializer<std::string>(), User(i)));
    WEIR_RETURN_IF_ERROR(s.clicks->Update(round * 10 + i % 10));
    WEIR_RETURN_IF_ERROR(s.pages->Add("/page/" + std::to_string(round)));
    WEIR_RETURN_IF_ERROR(s.spend->Put("round-" + std::to_string(round), i * 0.5 + round));
    WEIR_RETURN_IF_ERROR(s.longest->Add((i * 7 + round * 13) % 97));
    WEIR_RETURN_IF_ERROR(s.average->Add(i + round));
  }
  return Status::OK();
}

Result<std::string> Describe(KeyedStateBackend& b, DemoStates& s, const std::string& user) {
  WEIR_RETURN_IF_ERROR(b.SetCurrentKey(*DefaultSerializer<std::string>(), user));
  WEIR_ASSIGN_OR_RETURN(auto clicks, s.clicks->Value());
  WEIR_ASSIGN_OR_RETURN(auto pages, s.pages->Get());
  WEIR_ASSIGN_OR_RETURN(auto spend, s.spend->Entries());
  WEIR_ASSIGN_OR_RETURN(auto longest, s.longest->Get());
  WEIR_ASSIGN_OR_RETURN(auto average, s.average->Get());
  std::string out = user + ": clicks=" + std::to_string(clicks.value_or(-1)) + " pages=[";
  for (const auto& p : pages) out += p + (&p == &pages.back() ? "" : " ");
  out += "] spend={";
  for (const auto& [k, v] : spend) out += k + ":" + std::to_string(v) + " ";
  out += "} longest=" + std::to_string(longest.value_or(-1)) +
         " average=" + std::to_string(average.value_or(-1));
  return out;
}

Status TakeCheckpoint(RocksDbKeyedStateBackend& backend, DemoStates& states,
                      const CheckpointStorage& storage, uint64_t id, bool race_writes) {
  const int64_t triggered = NowMs();
  FullSnapshotStrategy strategy(backend, storage);
  const auto sync_start = std::chrono::steady_clock::now();
  WEIR_ASSIGN_OR_RETURN(auto async_part, strategy.SyncPart(id));
  const auto sync_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - sync_start)
                           .count();
  if (race_writes) {
    // Processing resumes right after the synchronous part; these writes are not in checkpoint id.
    std::printf("  writing round 99 while checkpoint %llu's asynchronous part is pending\n",
                static_cast<unsigned long long>(id));
    WEIR_RETURN_IF_ERROR(WriteRound(backend, states, 99));
  }
  WEIR_ASSIGN_OR_RETURN(KeyedStateHandle handle, async_part->Run());
  CheckpointMetadata metadata;
  metadata.checkpoint_id = id;
  metadata.kind = CheckpointKind::kFull;
  metadata.job_id = "state-demo";
  metadata.trigger_unix_ms = triggered;
  metadata.completed_unix_ms = NowMs();
  metadata.backends.push_back(handle);
  WEIR_RETURN_IF_ERROR(WriteCheckpointMetadata(storage, metadata));
  std::printf("  checkpoint %llu complete: sync part %lld us, %llu bytes in %s\n",
              static_cast<unsigned long long>(id), static_cast<long long>(sync_us),
              static_cast<unsigned long long>(handle.full_bytes), handle.files[0].path.c_str());
  return Status::OK();
}

Status Run(const std::string& dir) {
  std::filesystem::remove_all(dir);
  const auto storage =
      CheckpointStorage::ForJob(NewPosixFileSystem(), dir + "/checkpoints", "state-demo");
  WEIR_RETURN_IF_ERROR(storage.Initialize());
  RocksDbBackendOptions options;
  options.backend_id = "demo_0";
  options.local_dir = dir + "/local/demo_0";

  std::printf("1. opening a RocksDB keyed state backend in %s (key groups [0, 127])\n",
              options.local_dir.c_str());
  WEIR_ASSIGN_OR_RETURN(auto backend, RocksDbKeyedStateBackend::Open(options));
  WEIR_ASSIGN_OR_RETURN(DemoStates states, DemoStates::Register(*backend));

  std::printf("2. writing value, list, map, reducing and aggregating state for %d users\n", kUsers);
  WEIR_RETURN_IF_ERROR(WriteRound(*backend, states, 1));
  WEIR_RETURN_IF_ERROR(WriteRound(*backend, states, 2));
  WEIR_ASSIGN_OR_RETURN(std::string at_checkpoint, Describe(*backend, states, User(42)));
  std::printf("   %s\n", at_checkpoint.c_str());

  std::printf("3. full checkpoint 1 to %s\n", storage.job_dir().c_str());
  WEIR_RETURN_IF_ERROR(TakeCheckpoint(*backend, states, storage, 1, /*race_writes=*/true));
  WEIR_ASSIGN_OR_RETURN(std::string after, Describe(*backend, states, User(42)));
  std::printf("   live state now: %s\n", after.c_str());
  std::printf("4. full checkpoint 2\n");
  WEIR_RETURN_IF_ERROR(TakeCheckpoint(*backend, states, storage, 2, /*race_writes=*/false));
  backend.reset();

  std::printf("5. restoring checkpoint 1 into a fresh backend\n");
  WEIR_ASSIGN_OR_RETURN(auto metadata,
                        ReadCheckpointMetadata(storage.fs(), storage.MetadataPath(1)));
  options.local_dir = dir + "/local/demo_0-restored";
  WEIR_ASSIGN_OR_RETURN(auto restored,
                        RestoreKeyedStateBackend(storage, 1, metadata.backends[0], options));
  WEIR_ASSIGN_OR_RETURN(DemoStates restored_states, DemoStates::Register(*restored));
  WEIR_ASSIGN_OR_RETURN(std::string restored_view, Describe(*restored, restored_states, User(42)));
  std::printf("   %s\n", restored_view.c_str());
  WEIR_ASSIGN_OR_RETURN(auto keys, restored->GetKeys("clicks", *DefaultSerializer<std::string>()));
  std::printf("   %zu keys restored\n", keys.size());
  if (restored_view != at_checkpoint || keys.size() != kUsers) {
    return Status::Internal("restored state differs from the state at checkpoint 1");
  }
  std::printf("6. restored state equals the state at checkpoint 1 (round 99 is not in it)\n");
  std::printf("\nsee it on disk:  weir checkpoints list %s/checkpoints\n", dir.c_str());
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/weir-demo";
  const Status s = Run(dir);
  return s.ok() ? 0 : Die(s);
}
