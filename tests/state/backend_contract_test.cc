// The state backend contract, run over every backend (as Flink's StateBackendTestBase does):
// - each state kind's semantics (value, list, map, reducing, aggregating), namespaces, clearing,
//   key isolation and iteration, identical whichever backend holds the state;
// - what one backend writes comes back identical from its full snapshot, restored into either
//   backend; writes made after the synchronous part are not in the snapshot, even when they run
//   concurrently with the asynchronous part; keys are listed in key-group order.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "testing/backend_maker.h"

namespace weir {
namespace {

using testing::BackendMaker;

class BackendContractTest : public BackendMaker,
                            public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
};

TEST_P(BackendContractTest, AFullSnapshotRestoresIntoEitherBackend) {
  const auto& [from_type, to_type] = GetParam();
  auto from = Make(from_type, "from_0", nullptr);
  ASSERT_TRUE(from.ok()) << from.status().ToString();
  KeyedStateBackend& b = **from;
  auto value = b.GetValueState(ValueStateDescriptor<int64_t>{"value"});
  auto list = b.GetListState(ListStateDescriptor<std::string>{"list"});
  auto map = b.GetMapState(MapStateDescriptor<std::string, int64_t>{"map"});
  ASSERT_TRUE(value.ok() && list.ok() && map.ok());
  for (uint64_t k = 0; k < 300; ++k) {
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
    ASSERT_TRUE((*value)->Update(static_cast<int64_t>(k * 3)).ok());
    ASSERT_TRUE((*list)->Add("a" + std::to_string(k)).ok());
    ASSERT_TRUE((*list)->Add("b").ok());
    ASSERT_TRUE((*map)->Put("x", static_cast<int64_t>(k)).ok());
    (*value)->SetCurrentNamespace("window-1");
    ASSERT_TRUE((*value)->Update(-1).ok());
    (*value)->SetCurrentNamespace({});
  }
  auto part = (*from)->Snapshot(1);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  // Written after the synchronous part: not in the snapshot.
  ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), 7).ok());
  ASSERT_TRUE((*value)->Update(999).ok());
  ASSERT_TRUE((*map)->Put("late", 1).ok());
  auto handle = (*part)->Run();
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();

  KeyedStateRestore restore{&storage_, 1, {*handle}, false};
  auto to = Make(to_type, "from_0", &restore);
  if (from_type == "rocksdb_small_cache" && to_type == "hashmap") {
    // That variant takes incremental checkpoints: RocksDB's own files, refused by the other.
    ASSERT_FALSE(to.ok());
    EXPECT_NE(to.status().message().find("incremental"), std::string::npos)
        << to.status().ToString();
    return;
  }
  ASSERT_TRUE(to.ok()) << to.status().ToString();
  KeyedStateBackend& r = **to;
  auto rvalue = r.GetValueState(ValueStateDescriptor<int64_t>{"value"});
  auto rlist = r.GetListState(ListStateDescriptor<std::string>{"list"});
  auto rmap = r.GetMapState(MapStateDescriptor<std::string, int64_t>{"map"});
  ASSERT_TRUE(rvalue.ok() && rlist.ok() && rmap.ok());
  for (uint64_t k = 0; k < 300; ++k) {
    ASSERT_TRUE(r.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
    EXPECT_EQ((*rvalue)->Value().value(), std::optional<int64_t>(k * 3)) << k;
    EXPECT_EQ((*rlist)->Get().value(), (std::vector<std::string>{"a" + std::to_string(k), "b"}));
    EXPECT_EQ((*rmap)->Get("x").value(), std::optional<int64_t>(k));
    EXPECT_EQ((*rmap)->Get("late").value(), std::nullopt);
    (*rvalue)->SetCurrentNamespace("window-1");
    EXPECT_EQ((*rvalue)->Value().value(), std::optional<int64_t>(-1));
    (*rvalue)->SetCurrentNamespace({});
  }
  auto keys = r.GetKeys("value", *DefaultSerializer<uint64_t>());
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 300u);
  int last_group = -1;
  for (uint64_t k : *keys) {
    std::string bytes;
    DefaultSerializer<uint64_t>()->Serialize(k, &bytes);
    const int group = AssignToKeyGroup(bytes, 128);
    EXPECT_GE(group, last_group);
    last_group = group;
  }
}

INSTANTIATE_TEST_SUITE_P(
    State, BackendContractTest,
    ::testing::Combine(::testing::Values("rocksdb", "hashmap", "rocksdb_hash",
                                         "rocksdb_small_cache", "rocksdb_no_cache",
                                         "rocksdb_changelog", "hashmap_changelog"),
                       ::testing::Values("rocksdb", "hashmap")),
    [](const auto& info) { return std::get<0>(info.param) + "_to_" + std::get<1>(info.param); });

// One backend of the parameter's type, checked against the same expectations.
class StateBackendTest : public BackendMaker, public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto made = Make(GetParam(), "op_0", nullptr);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    backend_ = std::move(made).value();
  }
  void Key(uint64_t k) {
    ASSERT_TRUE(backend_->SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
  }

  std::unique_ptr<CheckpointableKeyedStateBackend> backend_;
};

TEST_P(StateBackendTest, ValueStatePerKeyAndNamespace) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<std::string>{"v"});
  Key(1);
  EXPECT_EQ(*v->Value(), std::nullopt);
  ASSERT_TRUE(v->Update("one").ok());
  v->SetCurrentNamespace("ns");
  EXPECT_EQ(*v->Value(), std::nullopt) << "namespaces are separate";
  ASSERT_TRUE(v->Update("one-ns").ok());
  v->SetCurrentNamespace({});
  Key(2);
  EXPECT_EQ(*v->Value(), std::nullopt) << "keys are separate";
  ASSERT_TRUE(v->Update("two").ok());
  Key(1);
  EXPECT_EQ(*v->Value(), std::optional<std::string>("one"));
  ASSERT_TRUE(v->Update("uno").ok());
  EXPECT_EQ(*v->Value(), std::optional<std::string>("uno"));
  ASSERT_TRUE(v->Clear().ok());
  EXPECT_EQ(*v->Value(), std::nullopt);
  v->SetCurrentNamespace("ns");
  EXPECT_EQ(*v->Value(), std::optional<std::string>("one-ns")) << "Clear is per namespace";
  // Asking again by the same descriptor returns the same state.
  EXPECT_EQ(*backend_->GetValueState(ValueStateDescriptor<std::string>{"v"}), v);
  // The same name as another kind is refused.
  EXPECT_FALSE(backend_->GetListState(ListStateDescriptor<std::string>{"v"}).ok());
}

TEST_P(StateBackendTest, ListStateAppendsUpdatesAndClears) {
  auto l = *backend_->GetListState(ListStateDescriptor<int64_t>{"l"});
  Key(5);
  EXPECT_TRUE(l->Get()->empty());
  ASSERT_TRUE(l->Add(1).ok());
  ASSERT_TRUE(l->AddAll({2, 3}).ok());
  EXPECT_EQ(*l->Get(), (std::vector<int64_t>{1, 2, 3}));
  ASSERT_TRUE(l->Update({9}).ok());
  EXPECT_EQ(*l->Get(), (std::vector<int64_t>{9}));
  ASSERT_TRUE(l->Update({}).ok());
  EXPECT_TRUE(l->Get()->empty());
  ASSERT_TRUE(l->Add(4).ok());
  Key(6);
  EXPECT_TRUE(l->Get()->empty());
  Key(5);
  ASSERT_TRUE(l->Clear().ok());
  EXPECT_TRUE(l->Get()->empty());
}

TEST_P(StateBackendTest, MapStateEntriesIterationAndRemoval) {
  auto m = *backend_->GetMapState(MapStateDescriptor<std::string, int64_t>{"m"});
  Key(3);
  EXPECT_TRUE(*m->IsEmpty());
  ASSERT_TRUE(m->PutAll({{"b", 2}, {"a", 1}, {"c", 3}}).ok());
  ASSERT_TRUE(m->Put("a", 10).ok());
  EXPECT_EQ(*m->Get("a"), std::optional<int64_t>(10));
  EXPECT_TRUE(*m->Contains("b"));
  ASSERT_TRUE(m->Remove("b").ok());
  EXPECT_FALSE(*m->Contains("b"));
  EXPECT_EQ(*m->Get("b"), std::nullopt);
  auto entries = *m->Entries();
  std::map<std::string, int64_t> seen(entries.begin(), entries.end());
  EXPECT_EQ(seen, (std::map<std::string, int64_t>{{"a", 10}, {"c", 3}}));
  EXPECT_EQ(m->Keys()->size(), 2u);
  int visited = 0;
  ASSERT_TRUE(m->ForEach([&](const std::string&, const int64_t&) { return ++visited < 1; }).ok());
  EXPECT_EQ(visited, 1) << "ForEach stops when the visitor says so";
  Key(4);
  EXPECT_TRUE(*m->IsEmpty());
  Key(3);
  ASSERT_TRUE(m->Clear().ok());
  EXPECT_TRUE(*m->IsEmpty());
}

TEST_P(StateBackendTest, ReducingAndAggregatingStatesFold) {
  auto sum = *backend_->GetReducingState(ReducingStateDescriptor<int64_t>{
      "sum", [](const int64_t& a, const int64_t& b) { return a + b; }});
  AggregatingStateDescriptor<int64_t, int64_t, int> d{
      "distinct-digits",
      {[] { return int64_t{0}; },
       [](int64_t acc, const int64_t& v) { return acc | (int64_t{1} << (v % 10)); },
       [](const int64_t& acc) { return __builtin_popcountll(static_cast<uint64_t>(acc)); }}};
  auto digits = *backend_->GetAggregatingState(d);
  Key(8);
  EXPECT_EQ(*sum->Get(), std::nullopt);
  EXPECT_EQ(*digits->Get(), std::nullopt);
  for (int64_t v : {11, 21, 35, 7}) {
    ASSERT_TRUE(sum->Add(v).ok());
    ASSERT_TRUE(digits->Add(v).ok());
  }
  EXPECT_EQ(*sum->Get(), std::optional<int64_t>(74));
  EXPECT_EQ(*digits->Get(), std::optional<int>(3));  // digits 1, 5, 7
  Key(9);
  EXPECT_EQ(*sum->Get(), std::nullopt);
  Key(8);
  ASSERT_TRUE(sum->Clear().ok());
  EXPECT_EQ(*sum->Get(), std::nullopt);
  EXPECT_EQ(*digits->Get(), std::optional<int>(3));
}

TEST_P(StateBackendTest, KeysOfAStateAndNamespace) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  for (uint64_t k = 0; k < 50; ++k) {
    Key(k);
    ASSERT_TRUE(v->Update(1).ok());
    if (k % 2 == 0) {
      v->SetCurrentNamespace("even");
      ASSERT_TRUE(v->Update(2).ok());
      v->SetCurrentNamespace({});
    }
  }
  Key(10);
  ASSERT_TRUE(v->Clear().ok());
  auto keys = backend_->GetKeys("v", *DefaultSerializer<uint64_t>());
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 49u) << "a cleared key is not listed";
  auto even = backend_->GetKeys("v", *DefaultSerializer<uint64_t>(), "even");
  ASSERT_TRUE(even.ok());
  EXPECT_EQ(even->size(), 25u);
  EXPECT_TRUE(backend_->GetKeys("absent", *DefaultSerializer<uint64_t>()).status().IsNotFound())
      << "a state never registered has no keys to list";
}

// The asynchronous part writes what the state was at the synchronous part, while the task keeps
// changing it on its own thread: overwrites, deletions and new keys do not leak into the snapshot.
TEST_P(StateBackendTest, WritesDuringTheAsynchronousPartStayOutOfTheSnapshot) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  auto l = *backend_->GetListState(ListStateDescriptor<int64_t>{"l"});
  std::map<uint64_t, int64_t> model;
  std::mt19937_64 rng(GetParam().size());
  for (uint64_t k = 0; k < 3000; ++k) {
    Key(k);
    const auto x = static_cast<int64_t>(rng() % 1000);
    ASSERT_TRUE(v->Update(x).ok());
    ASSERT_TRUE(l->Add(x).ok());
    model[k] = x;
  }
  auto part = backend_->Snapshot(1);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  Result<KeyedStateHandle> handle = Status::Internal("not run");
  std::thread async([&] { handle = (*part)->Run(); });
  for (int round = 0; round < 3; ++round) {
    for (uint64_t k = 0; k < 4000; ++k) {
      Key(k);
      if (k % 3 == 0) {
        ASSERT_TRUE(v->Clear().ok());
        ASSERT_TRUE(l->Clear().ok());
      } else {
        ASSERT_TRUE(v->Update(-static_cast<int64_t>(k)).ok());
        ASSERT_TRUE(l->Add(-1).ok());
      }
    }
  }
  async.join();
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();

  KeyedStateRestore restore{&storage_, 1, {*handle}, false};
  auto restored = Make(GetParam(), "op_0", &restore);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  auto rv = *(*restored)->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  auto rl = *(*restored)->GetListState(ListStateDescriptor<int64_t>{"l"});
  for (uint64_t k = 0; k < 4000; ++k) {
    ASSERT_TRUE((*restored)->SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
    auto it = model.find(k);
    const std::optional<int64_t> expected =
        it == model.end() ? std::nullopt : std::optional<int64_t>(it->second);
    ASSERT_EQ(*rv->Value(), expected) << k;
    ASSERT_EQ(*rl->Get(), expected ? std::vector<int64_t>{*expected} : std::vector<int64_t>{}) << k;
  }
  EXPECT_EQ((*restored)->GetKeys("v", *DefaultSerializer<uint64_t>())->size(), model.size());
}

// A restored backend knows the states it was restored with before the job asks for them.
TEST_P(StateBackendTest, RestoredStatesAreRegistered) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  auto m = *backend_->GetMapState(MapStateDescriptor<std::string, int64_t>{"m"});
  Key(1);
  ASSERT_TRUE(v->Update(1).ok());
  ASSERT_TRUE(m->Put("k", 2).ok());
  auto part = backend_->Snapshot(1);
  ASSERT_TRUE(part.ok());
  auto handle = (*part)->Run();
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  KeyedStateRestore restore{&storage_, 1, {*handle}, false};
  auto restored = Make(GetParam(), "op_0", &restore);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  std::set<std::string> names;
  for (const auto& meta : (*restored)->RegisteredStates()) names.insert(meta.name);
  EXPECT_EQ(names, (std::set<std::string>{"m", "v"}));
}

INSTANTIATE_TEST_SUITE_P(State, StateBackendTest,
                         ::testing::Values("rocksdb", "hashmap", "rocksdb_hash",
                                           "rocksdb_small_cache", "rocksdb_no_cache",
                                           "rocksdb_changelog", "hashmap_changelog"),
                         [](const auto& info) { return info.param; });

TEST(StateBackendsTest, AnUnknownTypeIsRefusedNamingTheKnownOnes) {
  KeyedStateBackendParameters p;
  p.backend_id = "x_0";
  auto made = CreateKeyedStateBackend("memory", p, nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("known: rocksdb, hashmap"), std::string::npos);
}

}  // namespace
}  // namespace weir
