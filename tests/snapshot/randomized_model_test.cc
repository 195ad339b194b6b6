// Thousands of random operations over many keys, namespaces and every state type, with full
// checkpoints at random points (some with operations racing their asynchronous part), full or
// incremental, on local storage or on S3. Every checkpoint is then restored into a fresh backend
// and compared with an in-memory model of the state as of that checkpoint.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "checkpoint/checkpoint_coordinator.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/storage_under_test.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

using Scope = std::pair<int64_t, std::string>;  // (key, namespace)

struct KeyValueModel {
  std::map<Scope, std::string> value;
  std::map<Scope, std::vector<int64_t>> list;
  std::map<Scope, std::map<std::string, double>> map;
  std::map<Scope, int64_t> reducing;   // running max
  std::map<Scope, int64_t> aggregate;  // sum of squares, read as the sum
  bool operator==(const KeyValueModel&) const = default;
};

struct States {
  ValueState<std::string>* value;
  ListState<int64_t>* list;
  MapState<std::string, double>* map;
  ReducingState<int64_t>* reducing;
  AggregatingState<int64_t, int64_t>* aggregate;

  static States Get(KeyedStateBackend& b) {
    States s{};
    s.value = *b.GetValueState(ValueStateDescriptor<std::string>{"value"});
    s.list = *b.GetListState(ListStateDescriptor<int64_t>{"list"});
    s.map = *b.GetMapState(MapStateDescriptor<std::string, double>{"map"});
    s.reducing = *b.GetReducingState(ReducingStateDescriptor<int64_t>{
        "reducing", [](const int64_t& a, const int64_t& v) { return std::max(a, v); }});
    s.aggregate = *b.GetAggregatingState(AggregatingStateDescriptor<int64_t, int64_t, int64_t>{
        "aggregate",
        {[] { return int64_t{0}; }, [](int64_t acc, const int64_t& v) { return acc + v * v; },
         [](const int64_t& acc) { return acc; }}});
    return s;
  }
  void SetNamespace(const std::string& ns) {
    for (StateBase* s : std::initializer_list<StateBase*>{value, list, map, reducing, aggregate}) {
      s->SetCurrentNamespace(ns);
    }
  }
};

class RandomizedModelTest
    : public ::testing::TestWithParam<std::tuple<testing::StorageKind, int, bool>> {
 protected:
  static constexpr int kKeys = 150;
  const std::vector<std::string> kNamespaces = {"", "w1", "w2"};

  void RandomOp(std::mt19937_64& rng, KeyedStateBackend& b, States& s, KeyValueModel& m) {
    const int64_t key = static_cast<int64_t>(rng() % kKeys);
    const std::string ns = kNamespaces[rng() % kNamespaces.size()];
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<int64_t>(), key).ok());
    s.SetNamespace(ns);
    const Scope scope{key, ns};
    const int64_t x = static_cast<int64_t>(rng() % 1000);
    switch (rng() % 12) {
      case 0:
        ASSERT_TRUE(s.value->Update("v" + std::to_string(x)).ok());
        m.value[scope] = "v" + std::to_string(x);
        break;
      case 1:
        ASSERT_TRUE(s.value->Clear().ok());
        m.value.erase(scope);
        break;
      case 2:
        ASSERT_TRUE(s.list->Add(x).ok());
        m.list[scope].push_back(x);
        break;
      case 3:
        ASSERT_TRUE(s.list->Update({x, x + 1}).ok());
        m.list[scope] = {x, x + 1};
        break;
      case 4:
        ASSERT_TRUE(s.list->Clear().ok());
        m.list.erase(scope);
        break;
      case 5:
      case 6: {
        const std::string k = "mk" + std::to_string(x % 20);
        ASSERT_TRUE(s.map->Put(k, x / 7.0).ok());
        m.map[scope][k] = x / 7.0;
        break;
      }
      case 7: {
        const std::string k = "mk" + std::to_string(x % 20);
        ASSERT_TRUE(s.map->Remove(k).ok());
        if (m.map.count(scope)) {
          m.map[scope].erase(k);
          if (m.map[scope].empty()) m.map.erase(scope);
        }
        break;
      }
      case 8:
        ASSERT_TRUE(s.map->Clear().ok());
        m.map.erase(scope);
        break;
      case 9: {
        ASSERT_TRUE(s.reducing->Add(x).ok());
        auto [it, fresh] = m.reducing.emplace(scope, x);
        if (!fresh) it->second = std::max(it->second, x);
        break;
      }
      case 10:
        ASSERT_TRUE(s.aggregate->Add(x).ok());
        m.aggregate[scope] += x * x;
        break;
      case 11:
        ASSERT_TRUE(s.reducing->Clear().ok());
        m.reducing.erase(scope);
        break;
    }
  }

  // Reads everything back out of a backend into a model.
  KeyValueModel ReadBack(KeyedStateBackend& b) {
    States s = States::Get(b);
    KeyValueModel m;
    auto ints = DefaultSerializer<int64_t>();
    for (const std::string& ns : kNamespaces) {
      std::set<int64_t> keys;
      for (const char* state : {"value", "list", "map", "reducing", "aggregate"}) {
        auto k = b.GetKeys(state, *ints, ns);
        EXPECT_TRUE(k.ok()) << k.status().ToString();
        keys.insert(k->begin(), k->end());
      }
      s.SetNamespace(ns);
      for (int64_t key : keys) {
        EXPECT_TRUE(b.SetCurrentKey(*ints, key).ok());
        const Scope scope{key, ns};
        if (auto v = *s.value->Value()) m.value[scope] = *v;
        if (auto l = *s.list->Get(); !l.empty()) m.list[scope] = l;
        auto entries = *s.map->Entries();
        for (const auto& [k, v] : entries) m.map[scope][k] = v;
        if (auto r = *s.reducing->Get()) m.reducing[scope] = *r;
        if (auto a = *s.aggregate->Get()) m.aggregate[scope] = *a;
      }
    }
    return m;
  }

  testing::TempDir tmp_;
};

TEST_P(RandomizedModelTest, EveryCheckpointRestoresToTheModel) {
  const auto [kind_of_storage, seed, incremental] = GetParam();
  std::mt19937_64 rng(seed);
  auto under_test = testing::StorageUnderTest::Create(
      kind_of_storage, ::testing::UnitTest::GetInstance()->current_test_info()->name());
  ASSERT_TRUE(under_test.ok()) << under_test.status().ToString();
  const auto storage =
      CheckpointStorage::ForJob((*under_test)->shared_fs(), (*under_test)->Sub("ckpt"), "job");
  ASSERT_TRUE(storage.Initialize().ok());
  RocksDbBackendOptions options;
  options.backend_id = "op_0";
  options.local_dir = tmp_.Sub("live");
  auto backend = std::move(RocksDbKeyedStateBackend::Open(options)).value();
  ThreadPool pool(4);
  std::unique_ptr<SnapshotStrategy> strategy;
  if (incremental) {
    auto inc = std::make_unique<IncrementalSnapshotStrategy>(*backend, storage, pool);
    strategy = std::move(inc);
  } else {
    strategy = std::make_unique<FullSnapshotStrategy>(*backend, storage);
  }
  // Every checkpoint is retained, so that each can be restored at the end.
  CheckpointCoordinator coordinator(storage, CoordinatorOptions{"job", 1000, {}});
  ASSERT_TRUE(coordinator.Recover().ok());
  coordinator.AddListener(strategy.get());  // a full strategy ignores notifications
  const auto kind = incremental ? CheckpointKind::kIncremental : CheckpointKind::kFull;
  States states = States::Get(*backend);
  KeyValueModel model;
  std::map<uint64_t, KeyValueModel> at_checkpoint;

  for (int op = 0; op < 4000; ++op) {
    ASSERT_NO_FATAL_FAILURE(RandomOp(rng, *backend, states, model));
    if (rng() % 400 != 0) continue;
    // A checkpoint: the model is captured at the sync part; operations continue before the
    // async part runs, and must not show up in the checkpoint.
    auto id = coordinator.StartCheckpoint(kind, {"op_0"}, 0);
    ASSERT_TRUE(id.ok());
    auto async_part = strategy->SyncPart(*id);
    ASSERT_TRUE(async_part.ok());
    at_checkpoint[*id] = model;
    for (int racing = static_cast<int>(rng() % 50); racing > 0; --racing) {
      ASSERT_NO_FATAL_FAILURE(RandomOp(rng, *backend, states, model));
    }
    auto handle = (*async_part)->Run();
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    auto completed = coordinator.Acknowledge(*id, *handle, 0);
    ASSERT_TRUE(completed.ok() && completed->has_value()) << completed.status().ToString();
  }
  ASSERT_GE(at_checkpoint.size(), 3u) << "seed " << seed << " took too few checkpoints";
  EXPECT_EQ(ReadBack(*backend), model) << "live backend differs from the model, seed " << seed;

  for (const auto& [id, expected] : at_checkpoint) {
    auto metadata = ReadCheckpointMetadata(storage.fs(), storage.MetadataPath(id));
    ASSERT_TRUE(metadata.ok());
    options.local_dir = tmp_.Sub("restored-" + std::to_string(id));
    auto restored = RestoreKeyedStateBackend(storage, id, metadata->backends[0], options, &pool);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_TRUE(ReadBack(**restored) == expected)
        << "checkpoint " << id << " does not restore to the model, seed " << seed;
  }
}

// The same test on local storage (snapshot_test) and on S3 against a Ceph RGW (s3_contract_test,
// compiled with WEIR_CONTRACT_ON_S3).
#ifdef WEIR_CONTRACT_ON_S3
constexpr testing::StorageKind kStorage = testing::StorageKind::kS3;
#else
constexpr testing::StorageKind kStorage = testing::StorageKind::kLocal;
#endif
INSTANTIATE_TEST_SUITE_P(SeedsAndKinds, RandomizedModelTest,
                         ::testing::Combine(::testing::Values(kStorage),
                                            ::testing::Values(1, 2, 3, 4), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(testing::StorageKindName(std::get<0>(info.param))) +
                                  "Seed" + std::to_string(std::get<1>(info.param)) +
                                  (std::get<2>(info.param) ? "Incremental" : "Full");
                         });

}  // namespace
}  // namespace weir
