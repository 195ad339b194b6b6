// State TTL (Flink's StateTtlConfig) over every backend, with an injected clock: what expires
// and when for each state kind, the update types and visibilities, namespaces, full snapshots
// that leave expired values out, RocksDB's compaction filter, and what a restore accepts.
#include <gtest/gtest.h>

#include <chrono>

#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "testing/backend_maker.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

using std::chrono::milliseconds;
using UpdateType = StateTtlConfig::UpdateType;
using Visibility = StateTtlConfig::StateVisibility;

StateTtlConfig Ttl(int64_t ms, UpdateType update = UpdateType::kOnCreateAndWrite,
                   Visibility visibility = Visibility::kNeverReturnExpired) {
  StateTtlConfig c = StateTtlConfig::Of(milliseconds(ms));
  c.update_type = update;
  c.visibility = visibility;
  return c;
}

class StateTtlTest : public testing::BackendMaker, public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { backend_ = Make(GetParam(), "op_0", nullptr); }

  // A backend on the test's clock (null after a failure, reported).
  std::unique_ptr<CheckpointableKeyedStateBackend> Make(const std::string& type,
                                                        const std::string& id,
                                                        const KeyedStateRestore* restore) {
    auto made = BackendMaker::Make(type, id, restore);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (!made.ok()) return nullptr;
    (*made)->SetTtlTimeProvider(clock_);
    return std::move(made).value();
  }
  void Key(KeyedStateBackend& b, uint64_t k) {
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
  }
  void Key(uint64_t k) { Key(*backend_, k); }
  // Every stored row of `state`, expired or not (the backend's raw snapshot view).
  size_t StoredRows(CheckpointableKeyedStateBackend& b, const std::string& state) {
    auto view = b.CreateSnapshotView();
    EXPECT_TRUE(view.ok());
    size_t index = 0;
    while (index < (*view)->states().size() && (*view)->states()[index].name != state) ++index;
    size_t rows = 0;
    for (auto it = (*view)->NewIterator(); it->Valid(); it->Next()) {
      rows += it->state_index() == index ? 1 : 0;
    }
    return rows;
  }
  Result<KeyedStateHandle> Checkpoint(CheckpointableKeyedStateBackend& b, uint64_t id) {
    WEIR_ASSIGN_OR_RETURN(auto part, b.Snapshot(id));
    return part->Run();
  }

  std::shared_ptr<ManualTtlTimeProvider> clock_ =
      std::make_shared<ManualTtlTimeProvider>(1'000'000);
  std::unique_ptr<CheckpointableKeyedStateBackend> backend_;
};

TEST_P(StateTtlTest, AValueExpiresAfterItsTtlAndIsRemovedByTheReadThatFindsIt) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)});
  Key(1);
  ASSERT_TRUE(v->Update(7).ok());
  clock_->Advance(milliseconds(99));
  EXPECT_EQ(*v->Value(), std::optional<int64_t>(7));
  // Reading does not refresh under kOnCreateAndWrite: 100 ms after the write it is gone.
  clock_->Advance(milliseconds(1));
  EXPECT_EQ(StoredRows(*backend_, "v"), 1u);
  EXPECT_EQ(*v->Value(), std::nullopt);
  EXPECT_EQ(StoredRows(*backend_, "v"), 0u);
  // A write starts the clock again.
  ASSERT_TRUE(v->Update(8).ok());
  clock_->Advance(milliseconds(60));
  ASSERT_TRUE(v->Update(9).ok());
  clock_->Advance(milliseconds(60));
  EXPECT_EQ(*v->Value(), std::optional<int64_t>(9));
}

TEST_P(StateTtlTest, OnReadAndWriteRefreshesWhatIsRead) {
  auto v = *backend_->GetValueState(
      ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100, UpdateType::kOnReadAndWrite)});
  Key(1);
  ASSERT_TRUE(v->Update(7).ok());
  for (int i = 0; i < 5; ++i) {
    clock_->Advance(milliseconds(90));
    EXPECT_EQ(*v->Value(), std::optional<int64_t>(7)) << i;
  }
  clock_->Advance(milliseconds(100));
  EXPECT_EQ(*v->Value(), std::nullopt);
}

TEST_P(StateTtlTest, ReturnExpiredIfNotCleanedUpReturnsItOnce) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{
      .name = "v",
      .ttl = Ttl(100, UpdateType::kOnCreateAndWrite, Visibility::kReturnExpiredIfNotCleanedUp)});
  Key(1);
  ASSERT_TRUE(v->Update(7).ok());
  clock_->Advance(milliseconds(500));
  // The hashmap backend's incremental cleanup, run by the read itself, gets to this one row
  // first; RocksDB's compaction has not.
  if (GetParam() == "rocksdb") {
    EXPECT_EQ(*v->Value(), std::optional<int64_t>(7));
  }
  EXPECT_EQ(*v->Value(), std::nullopt);
}

TEST_P(StateTtlTest, ListElementsExpireOneByOne) {
  auto l = *backend_->GetListState(ListStateDescriptor<std::string>{.name = "l", .ttl = Ttl(100)});
  Key(1);
  ASSERT_TRUE(l->Add("a").ok());
  clock_->Advance(milliseconds(50));
  ASSERT_TRUE(l->AddAll({"b", "c"}).ok());
  clock_->Advance(milliseconds(50));
  EXPECT_EQ(*l->Get(), (std::vector<std::string>{"b", "c"}));
  clock_->Advance(milliseconds(20));
  ASSERT_TRUE(l->Add("d").ok());
  EXPECT_EQ(*l->Get(), (std::vector<std::string>{"b", "c", "d"}));
  clock_->Advance(milliseconds(40));
  EXPECT_EQ(*l->Get(), (std::vector<std::string>{"d"}));
  // Update replaces the list; its elements all start now.
  ASSERT_TRUE(l->Update({"x", "y"}).ok());
  clock_->Advance(milliseconds(100));
  EXPECT_TRUE(l->Get()->empty());
  EXPECT_EQ(StoredRows(*backend_, "l"), 0u);
}

TEST_P(StateTtlTest, ListOnReadAndWriteAndReturnExpired) {
  auto l = *backend_->GetListState(ListStateDescriptor<int64_t>{
      .name = "l",
      .ttl = Ttl(100, UpdateType::kOnReadAndWrite, Visibility::kReturnExpiredIfNotCleanedUp)});
  Key(1);
  ASSERT_TRUE(l->Add(1).ok());
  clock_->Advance(milliseconds(60));
  ASSERT_TRUE(l->Add(2).ok());
  clock_->Advance(milliseconds(60));  // 1 has expired, 2 has not
  // As above: on the hashmap backend the incremental cleanup removed 1 before the read.
  if (GetParam() == "rocksdb") {
    EXPECT_EQ(*l->Get(), (std::vector<int64_t>{1, 2}));
  }
  EXPECT_EQ(*l->Get(), (std::vector<int64_t>{2}));  // 1 is gone, 2 refreshed at the first read
  clock_->Advance(milliseconds(90));
  EXPECT_EQ(*l->Get(), (std::vector<int64_t>{2}));
}

TEST_P(StateTtlTest, MapEntriesExpireOneByOne) {
  auto m = *backend_->GetMapState(
      MapStateDescriptor<std::string, int64_t>{.name = "m", .ttl = Ttl(100)});
  Key(1);
  ASSERT_TRUE(m->Put("a", 1).ok());
  clock_->Advance(milliseconds(50));
  ASSERT_TRUE(m->Put("b", 2).ok());
  clock_->Advance(milliseconds(50));
  EXPECT_EQ(*m->Get("a"), std::nullopt);
  EXPECT_FALSE(*m->Contains("a"));
  EXPECT_EQ(*m->Get("b"), std::optional<int64_t>(2));
  ASSERT_TRUE(m->Put("c", 3).ok());
  EXPECT_EQ(*m->Keys(), (std::vector<std::string>{"b", "c"}));
  clock_->Advance(milliseconds(50));
  EXPECT_EQ((*m->Entries()), (std::vector<std::pair<std::string, int64_t>>{{"c", 3}}));
  EXPECT_EQ(StoredRows(*backend_, "m"), 1u);  // iteration removed b
  clock_->Advance(milliseconds(50));
  EXPECT_TRUE(*m->IsEmpty());
}

TEST_P(StateTtlTest, ReducingAndAggregatingStartAfreshOnceExpired) {
  auto r = *backend_->GetReducingState(ReducingStateDescriptor<int64_t>{
      .name = "r", .reduce = [](int64_t a, int64_t b) { return a + b; }, .ttl = Ttl(100)});
  AggregateFunction<int64_t, int64_t, std::string> count{
      [] { return int64_t{0}; }, [](int64_t acc, const int64_t&) { return acc + 1; },
      [](const int64_t& acc) { return std::to_string(acc); }};
  auto a = *backend_->GetAggregatingState(AggregatingStateDescriptor<int64_t, int64_t, std::string>{
      .name = "a", .function = count, .ttl = Ttl(100)});
  Key(3);
  ASSERT_TRUE(r->Add(5).ok());
  ASSERT_TRUE(a->Add(5).ok());
  clock_->Advance(milliseconds(60));
  ASSERT_TRUE(r->Add(6).ok());
  ASSERT_TRUE(a->Add(6).ok());
  EXPECT_EQ(*r->Get(), std::optional<int64_t>(11));
  EXPECT_EQ(*a->Get(), std::optional<std::string>("2"));
  clock_->Advance(milliseconds(100));
  EXPECT_EQ(*r->Get(), std::nullopt);
  ASSERT_TRUE(r->Add(1).ok());
  ASSERT_TRUE(a->Add(1).ok());
  EXPECT_EQ(*r->Get(), std::optional<int64_t>(1));
  EXPECT_EQ(*a->Get(), std::optional<std::string>("1"));
}

TEST_P(StateTtlTest, EachKeyAndNamespaceExpiresOnItsOwn) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)});
  Key(1);
  ASSERT_TRUE(v->Update(1).ok());
  v->SetCurrentNamespace("w");
  clock_->Advance(milliseconds(50));
  ASSERT_TRUE(v->Update(2).ok());
  Key(2);
  ASSERT_TRUE(v->Update(3).ok());
  clock_->Advance(milliseconds(50));
  EXPECT_EQ(*v->Value(), std::optional<int64_t>(3));
  Key(1);
  EXPECT_EQ(*v->Value(), std::optional<int64_t>(2));
  v->SetCurrentNamespace({});
  EXPECT_EQ(*v->Value(), std::nullopt);
}

TEST_P(StateTtlTest, FullSnapshotsLeaveExpiredValuesOut) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)});
  auto l = *backend_->GetListState(ListStateDescriptor<int64_t>{.name = "l", .ttl = Ttl(100)});
  auto plain = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"plain"});
  for (uint64_t k = 0; k < 20; ++k) {
    Key(k);
    ASSERT_TRUE(v->Update(static_cast<int64_t>(k)).ok());
    ASSERT_TRUE(l->Add(static_cast<int64_t>(k)).ok());
    ASSERT_TRUE(plain->Update(static_cast<int64_t>(k)).ok());
  }
  clock_->Advance(milliseconds(60));
  for (uint64_t k = 10; k < 20; ++k) {  // keys 10..19 are written again
    Key(k);
    ASSERT_TRUE(v->Update(static_cast<int64_t>(k) * 10).ok());
    ASSERT_TRUE(l->Add(-1).ok());
  }
  clock_->Advance(milliseconds(60));  // the first writes have expired
  auto handle = Checkpoint(*backend_, 1);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();

  // Restored with a clock at the first write's time, nothing more expires on read: what comes
  // back is what the snapshot holds.
  for (const std::string to : {"rocksdb", "hashmap"}) {
    clock_->Set(1'000'000);
    KeyedStateRestore restore{&storage_, 1, {*handle}, false};
    auto restored = Make(to, "op_0", &restore);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(StoredRows(*restored, "v"), 10u) << to;
    EXPECT_EQ(StoredRows(*restored, "l"), 10u) << to;
    EXPECT_EQ(StoredRows(*restored, "plain"), 20u) << to;
    auto rv = *restored->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)});
    auto rl = *restored->GetListState(ListStateDescriptor<int64_t>{.name = "l", .ttl = Ttl(100)});
    Key(*restored, 15);
    EXPECT_EQ(*rv->Value(), std::optional<int64_t>(150)) << to;
    EXPECT_EQ(*rl->Get(), (std::vector<int64_t>{-1})) << to;
    Key(*restored, 5);
    EXPECT_EQ(*rv->Value(), std::nullopt) << to;
  }
}

TEST_P(StateTtlTest, ARestoreKeepsTheTtlSettingButMayChangeTheTtl) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)});
  Key(1);
  ASSERT_TRUE(v->Update(7).ok());
  auto handle = Checkpoint(*backend_, 1);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  ASSERT_EQ(handle->states.size(), 1u);
  EXPECT_TRUE(handle->states[0].ttl);

  KeyedStateRestore restore{&storage_, 1, {*handle}, false};
  auto without = Make(GetParam(), "op_0", &restore);
  auto refused = without->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("with a time-to-live"), std::string::npos)
      << refused.status().ToString();

  auto longer = Make(GetParam(), "op_0", &restore);
  auto v2 = *longer->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(1000)});
  Key(*longer, 1);
  clock_->Advance(milliseconds(500));
  EXPECT_EQ(*v2->Value(), std::optional<int64_t>(7));
}

TEST_P(StateTtlTest, ConflictingOrInvalidTtlsAreRefused) {
  ASSERT_TRUE(
      backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)}).ok());
  auto other = backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(200)});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("time-to-live 100 ms"), std::string::npos)
      << other.status().ToString();
  auto plain = backend_->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  EXPECT_FALSE(plain.ok());
  auto negative =
      backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "n", .ttl = Ttl(-5)});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(negative.status().message().find("state 'n': a time-to-live must be positive"),
            std::string::npos)
      << negative.status().ToString();
  // Refused before anything was registered: the state can be requested again, rightly.
  EXPECT_TRUE(
      backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "n", .ttl = Ttl(5)}).ok());
  EXPECT_EQ(backend_->RegisteredStates().size(), 2u);
}

// Rows no one reads again still go: RocksDB's compactions drop them (its compaction filter), the
// hashmap backend looks at a few rows per access (Flink's incremental cleanup of heap state).
TEST_P(StateTtlTest, UnreadExpiredValuesAreCleanedUpInTheBackground) {
  auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = Ttl(100)});
  auto l = *backend_->GetListState(ListStateDescriptor<int64_t>{.name = "l", .ttl = Ttl(100)});
  for (uint64_t k = 0; k < 400; ++k) {
    Key(k);
    ASSERT_TRUE(v->Update(1).ok());
    ASSERT_TRUE(l->Add(1).ok());
  }
  clock_->Advance(milliseconds(50));
  for (uint64_t k = 0; k < 400; k += 4) {
    Key(k);
    ASSERT_TRUE(l->Add(2).ok());
  }
  // A hashmap snapshot taken now pins the tables: the cleanup must not change what it reads.
  // (RocksDB's compaction filters do not respect snapshots; a full snapshot streamed meanwhile
  // may miss values that expire while it is written, never others.)
  auto pinned = backend_->CreateSnapshotView();
  ASSERT_TRUE(pinned.ok());
  clock_->Advance(milliseconds(60));  // the first writes have expired
  Key(1000);
  if (GetParam() == "rocksdb") {
    pinned->reset();  // RocksDB keeps merge operands (list appends) a snapshot sees
    ASSERT_TRUE(v->Update(0).ok());
    ASSERT_TRUE(static_cast<RocksDbKeyedStateBackend&>(*backend_).CompactFully().ok());
  } else {
    for (int i = 0; i < 200; ++i) {  // 5 rows per access: every row is looked at
      ASSERT_TRUE(v->Update(i).ok());
      ASSERT_TRUE(l->Get().ok());
    }
    size_t pinned_rows = 0;
    for (auto it = (*pinned)->NewIterator(); it->Valid(); it->Next()) ++pinned_rows;
    EXPECT_EQ(pinned_rows, 800u);
  }
  EXPECT_EQ(StoredRows(*backend_, "v"), 1u);
  EXPECT_EQ(StoredRows(*backend_, "l"), 100u);
}

INSTANTIATE_TEST_SUITE_P(State, StateTtlTest, ::testing::Values("rocksdb", "hashmap"),
                         [](const auto& info) { return info.param; });

// RocksDB drops expired values in its compactions, values and list elements (merge operands
// too) alike, and leaves the rest and states without TTL alone.
TEST(RocksDbTtlCompactionTest, CompactionsDropExpiredValues) {
  testing::TempDir tmp;
  RocksDbBackendOptions options;
  options.backend_id = "op_0";
  options.local_dir = tmp.Sub("db");
  options.max_parallelism = 128;
  auto backend = RocksDbKeyedStateBackend::Open(options);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto clock = std::make_shared<ManualTtlTimeProvider>(5'000);
  (*backend)->SetTtlTimeProvider(clock);
  auto& b = **backend;
  StateTtlConfig ttl = StateTtlConfig::Of(milliseconds(100));
  ttl.compaction_filter_query_time_after_entries = 7;
  auto v = *b.GetValueState(ValueStateDescriptor<int64_t>{.name = "v", .ttl = ttl});
  auto l = *b.GetListState(ListStateDescriptor<int64_t>{.name = "l", .ttl = ttl});
  auto m = *b.GetMapState(MapStateDescriptor<int64_t, int64_t>{.name = "m", .ttl = ttl});
  auto plain = *b.GetValueState(ValueStateDescriptor<int64_t>{"plain"});
  for (uint64_t k = 0; k < 500; ++k) {
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
    ASSERT_TRUE(v->Update(1).ok());
    ASSERT_TRUE(l->Add(1).ok());
    ASSERT_TRUE(m->Put(1, 1).ok());
    ASSERT_TRUE(plain->Update(1).ok());
  }
  clock->Advance(milliseconds(80));
  for (uint64_t k = 0; k < 500; k += 2) {  // even keys get a fresher value / element / entry
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
    ASSERT_TRUE(v->Update(2).ok());
    ASSERT_TRUE(l->Add(2).ok());
    ASSERT_TRUE(m->Put(2, 2).ok());
  }
  clock->Advance(milliseconds(40));  // the first writes have expired, the second have not
  ASSERT_TRUE(b.CompactFully().ok());

  auto view = b.CreateSnapshotView();
  ASSERT_TRUE(view.ok());
  std::map<std::string, size_t> rows;
  size_t list_elements = 0;
  for (auto it = (*view)->NewIterator(); it->Valid(); it->Next()) {
    const std::string& state = (*view)->states()[it->state_index()].name;
    ++rows[state];
    if (state == "l") {
      std::string_view row = it->value(), element;
      while (list_row::ReadElement(&row, &element)) ++list_elements;
    }
  }
  EXPECT_EQ(rows["v"], 250u);
  EXPECT_EQ(rows["l"], 250u);
  EXPECT_EQ(list_elements, 250u);  // the expired element is gone from each kept list
  EXPECT_EQ(rows["m"], 250u);
  EXPECT_EQ(rows["plain"], 500u);
}

}  // namespace
}  // namespace weir
