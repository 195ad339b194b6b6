// Restores at another parallelism: each new backend owns the key groups Flink's formula gives it
// and restores them from every old backend that holds some: from full snapshots by reading only
// those groups of each key-group stream; from incremental RocksDB snapshots by building on the
// database sharing the most groups, dropping the others and importing the rest. A chain of
// parallelism changes, on either backend (and switching between them and between full and
// incremental), keeps every state kind with its namespaces exactly as a model says, cleared
// state included. On local disk here, on a Ceph RGW in s3_contract_test (compiled with
// WEIR_CONTRACT_ON_S3).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>

#include "common/thread_pool.h"
#include "io/file_system.h"
#include "snapshot/restore/full_restore.h"
#include "state/rocksdb/rocksdb_options.h"
#include "state/state_backends.h"
#include "testing/storage_under_test.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

constexpr int kMaxParallelism = 128;
#ifdef WEIR_CONTRACT_ON_S3
constexpr testing::StorageKind kRescaleStorage = testing::StorageKind::kS3;
#else
constexpr testing::StorageKind kRescaleStorage = testing::StorageKind::kLocal;
#endif

// What one key holds in every state (timers are a map state of the same kind: the runtime's
// rescale test follows them end to end).
struct KeyModel {
  int64_t value = 0;
  int64_t value_in_window = 0;
  std::vector<std::string> list;
  std::map<std::string, int64_t> map;
  int64_t sum = 0;
  int64_t count = 0, max = 0;  // the aggregating state: count and maximum of what was added
};

// The aggregating state: how many values were added and the largest (values are at most 1000),
// in one accumulator: count * 10000 + max.
AggregateFunction<int64_t, int64_t, int64_t> CountMaxFunction() {
  return {[] { return int64_t{0}; },
          [](int64_t acc, const int64_t& v) {
            return (acc / 10000 + 1) * 10000 + std::max<int64_t>(acc % 10000, v);
          },
          [](const int64_t& acc) { return acc; }};
}

class RescaleRestoreTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  using Backends = std::vector<std::unique_ptr<CheckpointableKeyedStateBackend>>;

  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    auto under_test = testing::StorageUnderTest::Create(kRescaleStorage, "rescale-" + name);
    ASSERT_TRUE(under_test.ok()) << under_test.status().ToString();
    under_test_ = std::move(under_test).value();
    storage_.emplace(
        CheckpointStorage::ForJob(under_test_->shared_fs(), under_test_->Sub("ckpt"), "job"));
    ASSERT_TRUE(storage_->Initialize().ok());
  }

  // `parallelism` backends of `type`, restored from `handles` of checkpoint `id` (none: empty).
  Backends Make(const std::string& type, int parallelism,
                const std::vector<KeyedStateHandle>* handles, uint64_t id) {
    // "rocksdb-incremental": RocksDB taking incremental checkpoints; "-batches": restoring
    // through write batches instead of ingested SST files; "-hash": with the hash memtable.
    const bool hash = type.ends_with("-hash");
    const std::string unhashed = hash ? type.substr(0, type.size() - 5) : type;
    const bool batches = unhashed.ends_with("-batches");
    const std::string kind = batches ? unhashed.substr(0, unhashed.size() - 8) : unhashed;
    const bool incremental = kind == "rocksdb-incremental";
    EXPECT_TRUE(config_.Set(config::kIncremental, incremental ? "true" : "false").ok());
    EXPECT_TRUE(config_.Set(config::kIngestRestore, batches ? "false" : "true").ok());
    EXPECT_TRUE(config_.Set(config::kMemtable, hash ? "HASH_SKIPLIST" : "SKIPLIST").ok());
    const std::string backend_type = incremental ? "rocksdb" : kind;
    Backends out;
    for (int i = 0; i < parallelism; ++i) {
      KeyedStateBackendParameters p;
      p.backend_id = "op_" + std::to_string(i);
      p.local_dir = tmp_.Sub("local-" + std::to_string(made_++));
      p.max_parallelism = kMaxParallelism;
      p.key_group_range = KeyGroupRange::ForSubtask(kMaxParallelism, parallelism, i);
      p.config = &config_;
      p.checkpoint_storage = &*storage_;
      p.io_pool = &pool_;
      std::optional<KeyedStateRestore> restore;
      if (handles != nullptr) {
        // What the runtime gives a new subtask: every old handle overlapping its key groups.
        std::vector<KeyedStateHandle> overlapping;
        for (const auto& h : *handles) {
          if (!h.key_group_range.Intersect(p.key_group_range).empty()) overlapping.push_back(h);
        }
        // Owned (claim): incremental backends build on the files of the database they restored.
        restore.emplace(KeyedStateRestore{&*storage_, id, overlapping, true});
      }
      auto made = CreateKeyedStateBackend(backend_type, p, restore ? &*restore : nullptr);
      EXPECT_TRUE(made.ok()) << made.status().ToString();
      if (!made.ok()) return {};
      out.push_back(std::move(made).value());
    }
    return out;
  }

  // The backend owning `key` among `backends`.
  CheckpointableKeyedStateBackend& Owner(Backends& backends, uint64_t key) {
    std::string bytes;
    DefaultSerializer<uint64_t>()->Serialize(key, &bytes);
    const int group = AssignToKeyGroup(bytes, kMaxParallelism);
    const int subtask =
        SubtaskForKeyGroup(kMaxParallelism, static_cast<int>(backends.size()), group);
    auto& b = *backends[static_cast<size_t>(subtask)];
    EXPECT_TRUE(b.key_group_range().Contains(group));
    EXPECT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), key).ok());
    return b;
  }

  struct States {
    ValueState<int64_t>* value;
    ListState<std::string>* list;
    MapState<std::string, int64_t>* map;
    ReducingState<int64_t>* sum;
    AggregatingState<int64_t, int64_t>* count_max;
  };
  static States Of(KeyedStateBackend& b) {
    return {*b.GetValueState(ValueStateDescriptor<int64_t>{"value"}),
            *b.GetListState(ListStateDescriptor<std::string>{"list"}),
            *b.GetMapState(MapStateDescriptor<std::string, int64_t>{"map"}),
            *b.GetReducingState(ReducingStateDescriptor<int64_t>{
                "sum", [](const int64_t& a, const int64_t& c) { return a + c; }}),
            *b.GetAggregatingState(AggregatingStateDescriptor<int64_t, int64_t, int64_t>{
                "count-max", CountMaxFunction()})};
  }

  // Random updates of random keys, in the backends and in the model.
  void Update(Backends& backends, std::mt19937_64& rng, int writes) {
    for (int i = 0; i < writes; ++i) {
      const uint64_t key = rng() % 400;
      auto& b = Owner(backends, key);
      States s = Of(b);
      KeyModel& m = model_[key];
      const auto x = 1 + static_cast<int64_t>(rng() % 1000);  // never 0: the model's "unset"
      switch (rng() % 8) {
        case 0:
          ASSERT_TRUE(s.value->Update(x).ok());
          m.value = x;
          break;
        case 1:
          s.value->SetCurrentNamespace("window");
          ASSERT_TRUE(s.value->Update(x).ok());
          s.value->SetCurrentNamespace({});
          m.value_in_window = x;
          break;
        case 2:
          ASSERT_TRUE(s.list->Add(std::to_string(x)).ok());
          m.list.push_back(std::to_string(x));
          break;
        case 3:
          ASSERT_TRUE(s.map->Put("k" + std::to_string(x % 7), x).ok());
          m.map["k" + std::to_string(x % 7)] = x;
          break;
        case 4:
          ASSERT_TRUE(s.sum->Add(x).ok());
          m.sum += x;
          break;
        case 7:
          ASSERT_TRUE(s.count_max->Add(x).ok());
          ++m.count;
          m.max = std::max(m.max, x);
          break;
        case 5:
          // Cleared state must not come back from a database that held it before a rescale.
          ASSERT_TRUE(s.value->Clear().ok());
          ASSERT_TRUE(s.list->Clear().ok());
          m.value = 0;
          m.list.clear();
          break;
        default:
          ASSERT_TRUE(s.map->Remove("k" + std::to_string(x % 7)).ok());
          m.map.erase("k" + std::to_string(x % 7));
      }
    }
  }

  void ExpectModel(Backends& backends) {
    size_t keys = 0;
    for (auto& b : backends) keys += b->GetKeys("list", *DefaultSerializer<uint64_t>())->size();
    size_t with_list = 0;
    for (const auto& [key, m] : model_) with_list += m.list.empty() ? 0 : 1;
    EXPECT_EQ(keys, with_list) << "no key is lost or doubled";
    for (const auto& [key, m] : model_) {
      auto& b = Owner(backends, key);
      States s = Of(b);
      const auto opt = [](int64_t v) { return v == 0 ? std::nullopt : std::optional<int64_t>(v); };
      ASSERT_EQ(*s.value->Value(), opt(m.value)) << key;
      s.value->SetCurrentNamespace("window");
      ASSERT_EQ(*s.value->Value(), opt(m.value_in_window)) << key;
      s.value->SetCurrentNamespace({});
      ASSERT_EQ(*s.list->Get(), m.list) << key;
      auto entries = *s.map->Entries();
      const std::map<std::string, int64_t> map(entries.begin(), entries.end());
      ASSERT_EQ(map, m.map) << key;
      ASSERT_EQ(*s.sum->Get(), opt(m.sum)) << key;
      ASSERT_EQ(*s.count_max->Get(), opt(m.count * 10000 + m.max)) << key;
    }
  }

  // Full snapshots of every backend as checkpoint `id`.
  std::vector<KeyedStateHandle> Checkpoint(Backends& backends, uint64_t id) {
    std::vector<KeyedStateHandle> handles;
    for (auto& b : backends) {
      auto part = b->Snapshot(id);
      EXPECT_TRUE(part.ok()) << part.status().ToString();
      auto handle = (*part)->Run();
      EXPECT_TRUE(handle.ok()) << handle.status().ToString();
      handles.push_back(*handle);
    }
    return handles;
  }

  testing::TempDir tmp_;
  Configuration config_;
  std::unique_ptr<testing::StorageUnderTest> under_test_;
  std::optional<CheckpointStorage> storage_;
  ThreadPool pool_{2};
  int made_ = 0;
  std::map<uint64_t, KeyModel> model_;
};

TEST_P(RescaleRestoreTest, AChainOfParallelismChangesKeepsEveryState) {
  const auto& [first_type, second_type] = GetParam();
  std::mt19937_64 rng(7);
  int parallelism = 2;
  Backends backends = Make(first_type, parallelism, nullptr, 0);
  ASSERT_EQ(backends.size(), 2u);
  uint64_t id = 0;
  for (int next : {3, 1, 4, 2}) {
    Update(backends, rng, 3000);
    const auto handles = Checkpoint(backends, ++id);
    // Alternate the backend type along the chain (the same type when both are equal).
    const std::string& type = id % 2 == 1 ? second_type : first_type;
    backends = Make(type, next, &handles, id);
    ASSERT_EQ(backends.size(), static_cast<size_t>(next)) << parallelism << " -> " << next;
    ExpectModel(backends);
    parallelism = next;
  }
}

// The first incremental checkpoint after a rescaled restore carries no dropped row: the files the
// new backends reference hold about the bytes the old ones did, not each old database whole.
class RescaledCheckpointTest : public RescaleRestoreTest {};

TEST_P(RescaledCheckpointTest, TheFirstCheckpointAfterARescaleCarriesNoDroppedRows) {
  const auto& first_type = std::get<0>(GetParam());
  std::mt19937_64 rng(11);
  Backends backends = Make(first_type, 2, nullptr, 0);
  Update(backends, rng, 20000);
  const auto before = Checkpoint(backends, 1);
  backends = Make(first_type, 4, &before, 1);
  ASSERT_EQ(backends.size(), 4u);
  const auto after = Checkpoint(backends, 2);
  // SST bytes (each database's MANIFEST and OPTIONS are a fixed cost per backend).
  const auto sum = [](const std::vector<KeyedStateHandle>& handles) {
    uint64_t n = 0;
    for (const auto& h : handles) {
      for (const auto& f : h.files) n += f.role == StateFileRole::kShared ? f.size : 0;
    }
    return n;
  };
  EXPECT_LT(sum(after), sum(before) * 5 / 4) << sum(before) << " SST bytes before the rescale";
  ExpectModel(backends);
}

#ifdef WEIR_CONTRACT_ON_S3
#define WEIR_RESCALE_SUITE S3
#else
#define WEIR_RESCALE_SUITE State
#endif
INSTANTIATE_TEST_SUITE_P(
    WEIR_RESCALE_SUITE, RescaleRestoreTest,
    ::testing::Values(std::make_tuple("rocksdb", "rocksdb"), std::make_tuple("hashmap", "hashmap"),
                      std::make_tuple("rocksdb", "hashmap"),
                      std::make_tuple("rocksdb-incremental", "rocksdb-incremental"),
                      // Incremental handles, then full ones of the same job.
                      std::make_tuple("rocksdb-incremental", "rocksdb"),
                      // Restores that write batches instead of ingesting SST files.
                      std::make_tuple("rocksdb-incremental-batches", "rocksdb-batches"),
                      // The hash memtable and its prefix extractor.
                      std::make_tuple("rocksdb-incremental-hash", "rocksdb-incremental-hash")),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });
INSTANTIATE_TEST_SUITE_P(WEIR_RESCALE_SUITE, RescaledCheckpointTest,
                         ::testing::Values(std::make_tuple("rocksdb-incremental",
                                                           "rocksdb-incremental"),
                                           std::make_tuple("rocksdb-incremental-batches",
                                                           "rocksdb-incremental-batches")),
                         [](const auto& info) {
                           return std::get<0>(info.param) == "rocksdb-incremental" ? "Ingest"
                                                                                   : "Batches";
                         });

#ifndef WEIR_CONTRACT_ON_S3
KeyedStateHandle Handle(const std::string& id, int start, int end, int max_parallelism = 128) {
  KeyedStateHandle h;
  h.backend_id = id;
  h.max_parallelism = max_parallelism;
  h.key_group_range = KeyGroupRange::Of(start, end);
  return h;
}

// Restoring must neither lose nor double a key group, nor change max parallelism.
TEST(CheckRestoreHandlesTest, RefusesGapsOverlapsAndAnotherMaxParallelism) {
  const KeyGroupRange range = KeyGroupRange::Of(32, 95);
  EXPECT_TRUE(CheckRestoreHandles({Handle("a", 0, 63), Handle("b", 64, 127)}, 128, range).ok());
  EXPECT_TRUE(CheckRestoreHandles({Handle("b", 64, 127), Handle("a", 0, 63)}, 128, range).ok());
  Status gap = CheckRestoreHandles({Handle("a", 0, 63), Handle("b", 70, 127)}, 128, range);
  EXPECT_EQ(gap.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(gap.message().find("no restored backend holds key group 64"), std::string::npos)
      << gap.message();
  Status overlap = CheckRestoreHandles({Handle("a", 0, 70), Handle("b", 64, 127)}, 128, range);
  EXPECT_NE(overlap.message().find("holds key group 64, which another"), std::string::npos)
      << overlap.message();
  Status outside = CheckRestoreHandles({Handle("a", 0, 31), Handle("b", 32, 127)}, 128, range);
  EXPECT_NE(outside.message().find("none of the restoring backend's"), std::string::npos);
  Status max_p = CheckRestoreHandles({Handle("a", 0, 255, 256)}, 128, range);
  EXPECT_NE(max_p.message().find("max parallelism 256"), std::string::npos) << max_p.message();
  EXPECT_FALSE(CheckRestoreHandles({}, 128, range).ok());
}
#endif

}  // namespace
}  // namespace weir
