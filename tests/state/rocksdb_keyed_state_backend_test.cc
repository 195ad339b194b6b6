#include "state/rocksdb/rocksdb_keyed_state_backend.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <set>

#include "testing/temp_dir.h"

namespace weir {
namespace {

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = OpenBackend(128, {}); }

  std::unique_ptr<RocksDbKeyedStateBackend> OpenBackend(int max_p, KeyGroupRange range) {
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("local-" + std::to_string(++opened_));
    o.max_parallelism = max_p;
    o.key_group_range = range;
    auto b = RocksDbKeyedStateBackend::Open(o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return std::move(b).value();
  }

  void Key(const std::string& k) { ASSERT_TRUE(backend_->SetCurrentKey(*strings_, k).ok()); }

  testing::TempDir tmp_;
  int opened_ = 0;
  std::unique_ptr<RocksDbKeyedStateBackend> backend_;
  SerializerPtr<std::string> strings_ = DefaultSerializer<std::string>();
};

TEST_F(BackendTest, ValueStatePerKeyAndNamespace) {
  auto state = backend_->GetValueState(ValueStateDescriptor<int64_t>{"count"});
  ASSERT_TRUE(state.ok());
  ValueState<int64_t>* s = *state;
  Key("a");
  EXPECT_FALSE(s->Value()->has_value());
  ASSERT_TRUE(s->Update(1).ok());
  Key("b");
  ASSERT_TRUE(s->Update(2).ok());
  s->SetCurrentNamespace("w1");
  EXPECT_FALSE(s->Value()->has_value());
  ASSERT_TRUE(s->Update(20).ok());
  s->SetCurrentNamespace("");
  EXPECT_EQ(**s->Value(), 2);
  Key("a");
  EXPECT_EQ(**s->Value(), 1);
  ASSERT_TRUE(s->Clear().ok());
  EXPECT_FALSE(s->Value()->has_value());
  Key("b");
  s->SetCurrentNamespace("w1");
  EXPECT_EQ(**s->Value(), 20);
}

TEST_F(BackendTest, ListStateAddGetUpdateClear) {
  auto s = *backend_->GetListState(ListStateDescriptor<std::string>{"events"});
  Key("k");
  EXPECT_TRUE(s->Get()->empty());
  ASSERT_TRUE(s->Add("x").ok());
  ASSERT_TRUE(s->Add(std::string(300, 'y')).ok());  // a multi-byte length prefix
  ASSERT_TRUE(s->AddAll({"", "z"}).ok());
  EXPECT_EQ(*s->Get(), (std::vector<std::string>{"x", std::string(300, 'y'), "", "z"}));
  ASSERT_TRUE(s->Update({"only"}).ok());
  EXPECT_EQ(*s->Get(), (std::vector<std::string>{"only"}));
  Key("other");
  EXPECT_TRUE(s->Get()->empty());
  Key("k");
  ASSERT_TRUE(s->Clear().ok());
  EXPECT_TRUE(s->Get()->empty());
  ASSERT_TRUE(s->Add("again").ok());
  ASSERT_TRUE(s->Update({}).ok());
  EXPECT_TRUE(s->Get()->empty());
}

TEST_F(BackendTest, MapStateOperationsAndOrderedIteration) {
  auto s = *backend_->GetMapState(MapStateDescriptor<int64_t, std::string>{"m"});
  Key("k1");
  EXPECT_TRUE(*s->IsEmpty());
  for (int64_t k : {5, -3, 100, 0}) ASSERT_TRUE(s->Put(k, "v" + std::to_string(k)).ok());
  EXPECT_FALSE(*s->IsEmpty());
  EXPECT_EQ(**s->Get(100), "v100");
  EXPECT_FALSE(s->Get(7)->has_value());
  EXPECT_TRUE(*s->Contains(-3));
  EXPECT_EQ(*s->Keys(), (std::vector<int64_t>{-3, 0, 5, 100}));
  ASSERT_TRUE(s->Remove(0).ok());
  EXPECT_FALSE(*s->Contains(0));
  std::vector<int64_t> seen;
  ASSERT_TRUE(s->ForEach([&](const int64_t& k, const std::string&) {
                 seen.push_back(k);
                 return seen.size() < 2;  // stop early
               }).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{-3, 5}));

  // Another key and another namespace are separate maps.
  Key("k2");
  EXPECT_TRUE(*s->IsEmpty());
  ASSERT_TRUE(s->PutAll({{1, "a"}, {2, "b"}}).ok());
  s->SetCurrentNamespace("ns");
  EXPECT_TRUE(*s->IsEmpty());
  ASSERT_TRUE(s->Put(9, "n").ok());
  s->SetCurrentNamespace("");
  ASSERT_TRUE(s->Clear().ok());
  EXPECT_TRUE(*s->IsEmpty());
  s->SetCurrentNamespace("ns");
  EXPECT_EQ(s->Entries()->size(), 1u);
  Key("k1");
  s->SetCurrentNamespace("");
  EXPECT_EQ(s->Entries()->size(), 3u);
}

TEST_F(BackendTest, ReducingAndAggregatingState) {
  auto sum = *backend_->GetReducingState(ReducingStateDescriptor<int64_t>{
      "sum", [](const int64_t& a, const int64_t& b) { return a + b; }});
  // Accumulator: a bitmask of the last digits seen; result: how many distinct ones.
  AggregatingStateDescriptor<int64_t, int64_t, int> d{
      "distinct-digits",
      {[] { return int64_t{0}; },
       [](int64_t acc, const int64_t& v) { return acc | (int64_t{1} << (v % 10)); },
       [](const int64_t& acc) { return __builtin_popcountll(static_cast<uint64_t>(acc)); }}};
  auto agg = *backend_->GetAggregatingState(d);
  Key("x");
  EXPECT_FALSE(sum->Get()->has_value());
  EXPECT_FALSE(agg->Get()->has_value());
  for (int64_t v : {1, 2, 3, 11, 12}) {
    ASSERT_TRUE(sum->Add(v).ok());
    ASSERT_TRUE(agg->Add(v).ok());
  }
  EXPECT_EQ(**sum->Get(), 29);
  EXPECT_EQ(**agg->Get(), 3);
  Key("y");
  EXPECT_FALSE(sum->Get()->has_value());
  Key("x");
  ASSERT_TRUE(sum->Clear().ok());
  ASSERT_TRUE(agg->Clear().ok());
  EXPECT_FALSE(sum->Get()->has_value());
  EXPECT_FALSE(agg->Get()->has_value());
}

TEST_F(BackendTest, IteratesAllKeysOfAStateAcrossKeyGroups) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  auto m = *backend_->GetMapState(MapStateDescriptor<int64_t, int64_t>{"m"});
  std::set<std::string> expected;
  std::set<int> groups;
  for (int i = 0; i < 500; ++i) {
    const std::string k = "key-" + std::to_string(i);
    Key(k);
    groups.insert(backend_->current_key_group());
    ASSERT_TRUE(v->Update(i).ok());
    ASSERT_TRUE(m->Put(1, i).ok());
    ASSERT_TRUE(m->Put(2, i).ok());  // several rows per key are still one key
    expected.insert(k);
  }
  EXPECT_GT(groups.size(), 100u);
  Key("in-other-namespace");
  m->SetCurrentNamespace("w");
  ASSERT_TRUE(m->Put(1, 1).ok());

  auto keys = backend_->GetKeys("m", *strings_);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 500u);
  EXPECT_EQ(std::set<std::string>(keys->begin(), keys->end()), expected);
  EXPECT_EQ(backend_->GetKeys("v", *strings_)->size(), 500u);
  EXPECT_EQ(*backend_->GetKeys("m", *strings_, "w"),
            (std::vector<std::string>{"in-other-namespace"}));
  EXPECT_TRUE(backend_->GetKeys("nope", *strings_).status().IsNotFound());
}

TEST_F(BackendTest, SameDescriptorSameStateOtherTypeIsAnError) {
  auto a = backend_->GetValueState(ValueStateDescriptor<int64_t>{"s"});
  auto b = backend_->GetValueState(ValueStateDescriptor<int64_t>{"s"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto as_list = backend_->GetListState(ListStateDescriptor<int64_t>{"s"});
  EXPECT_FALSE(as_list.ok());
  EXPECT_NE(as_list.status().message().find("'s'"), std::string::npos)
      << as_list.status().ToString();
  auto other_serializer = backend_->GetValueState(ValueStateDescriptor<std::string>{"s"});
  EXPECT_FALSE(other_serializer.ok());
}

TEST_F(BackendTest, StateNamedDefaultIsFine) {
  auto s = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"default"});
  Key("k");
  ASSERT_TRUE(s->Update(3).ok());
  EXPECT_EQ(**s->Value(), 3);
}

TEST_F(BackendTest, AccessWithoutCurrentKeyIsAnError) {
  auto s = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  EXPECT_EQ(s->Value().status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(BackendTest, KeysOutsideTheRangeAreRefused) {
  auto half = OpenBackend(128, KeyGroupRange::Of(0, 63));
  int accepted = 0, refused = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string k = "k" + std::to_string(i);
    const bool inside = AssignToKeyGroup(k, 128) <= 63;
    const Status s = half->SetCurrentKey(*strings_, k);
    EXPECT_EQ(s.ok(), inside);
    (s.ok() ? accepted : refused)++;
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
}

TEST_F(BackendTest, WideMaxParallelismUsesTwoBytePrefix) {
  auto wide = OpenBackend(32768, {});
  auto s = *wide->GetValueState(ValueStateDescriptor<std::string>{"v"});
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(wide->SetCurrentKey(*strings_, "k" + std::to_string(i)).ok());
    EXPECT_LT(wide->current_key_group(), 32768);
    ASSERT_TRUE(s->Update("v" + std::to_string(i)).ok());
  }
  EXPECT_EQ(wide->GetKeys("v", *strings_)->size(), 300u);
}

int Level0Files(rocksdb::DB* db) {
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  return static_cast<int>(
      std::count_if(files.begin(), files.end(), [](const auto& f) { return f.level == 0; }));
}

// Held for a replay, compactions neither run nor stop the writes as L0 files pile up past
// RocksDB's stop trigger; FinishReplay starts them, for the states created since too.
TEST_F(BackendTest, CompactionsHeldForAReplayStartWhenItFinishes) {
  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = tmp_.Sub("held");
  o.changes_to_replay = 4000;
  auto b = std::move(RocksDbKeyedStateBackend::Open(o)).value();
  EXPECT_TRUE(b->compactions_held());
  auto count = *b->GetValueState(ValueStateDescriptor<int64_t>{"count"});
  constexpr int kFlushes = 40;  // past level0_stop_writes_trigger (36)
  for (int round = 0; round < kFlushes; ++round) {
    for (int k = 0; k < 50; ++k) {
      ASSERT_TRUE(b->SetCurrentKey(*strings_, "k" + std::to_string(k)).ok());
      ASSERT_TRUE(count->Update(round).ok());
    }
    ASSERT_TRUE(b->CreateNativeCheckpoint(tmp_.Sub("flush-" + std::to_string(round))).ok());
  }
  ASSERT_TRUE(b->WaitForBackgroundWork().ok());  // returns: the held compactions are not coming
  EXPECT_EQ(Level0Files(b->database()), kFlushes);
  auto later = *b->GetValueState(ValueStateDescriptor<int64_t>{"later"});
  ASSERT_TRUE(b->FinishReplay().ok());
  EXPECT_FALSE(b->compactions_held());
  ASSERT_TRUE(b->WaitForBackgroundWork().ok());
  EXPECT_LT(Level0Files(b->database()), 4);
  for (int k = 0; k < 50; ++k) {
    ASSERT_TRUE(b->SetCurrentKey(*strings_, "k" + std::to_string(k)).ok());
    EXPECT_EQ(**count->Value(), kFlushes - 1);
    ASSERT_TRUE(later->Update(k).ok());
  }
  for (int round = 0; round < 8; ++round) {
    for (int k = 0; k < 50; ++k) {
      ASSERT_TRUE(b->SetCurrentKey(*strings_, "k" + std::to_string(k)).ok());
      ASSERT_TRUE(later->Update(round).ok());
    }
    ASSERT_TRUE(b->CreateNativeCheckpoint(tmp_.Sub("after-" + std::to_string(round))).ok());
  }
  ASSERT_TRUE(b->WaitForBackgroundWork().ok());
  EXPECT_LT(Level0Files(b->database()), 8);  // "later"'s L0 files were compacted as well
  ASSERT_TRUE(b->FinishReplay().ok());       // again: nothing to do
}

TEST_F(BackendTest, InvalidOptionsAreRejected) {
  RocksDbBackendOptions o;
  o.backend_id = "bad/id";
  o.local_dir = tmp_.Sub("x");
  EXPECT_FALSE(RocksDbKeyedStateBackend::Open(o).ok());
  o.backend_id = "ok";
  o.max_parallelism = 0;
  EXPECT_FALSE(RocksDbKeyedStateBackend::Open(o).ok());
  o.max_parallelism = 128;
  o.key_group_range = KeyGroupRange::Of(0, 128);
  EXPECT_FALSE(RocksDbKeyedStateBackend::Open(o).ok());
}

}  // namespace
}  // namespace weir
