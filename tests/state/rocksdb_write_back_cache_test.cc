// The RocksDB backend's write-back cache (state/rocksdb/rocksdb_write_back_cache.h): whatever the
// cache holds, evicts or has in flight, every state reads what was last written, and a checkpoint
// holds exactly the state at its synchronous part. Checked against an in-memory model under
// random operations on every state kind, with caches small enough that rows are evicted and
// written back all the time, checkpoints whose asynchronous part runs while the task writes, and
// checkpoints that overlap.
#include "state/rocksdb/rocksdb_write_back_cache.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <future>
#include <map>
#include <random>
#include <thread>

#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "state_model.h"
#include "testing/backend_maker.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

class WriteBackCacheTest : public testing::BackendMaker,
                           public testing::StateModel,
                           public ::testing::TestWithParam<std::string> {
 protected:
  // The cache's size (the parameter: "<size>", or "<size> ingesting" for a writer that ingests
  // a state's rows of any batch as an SST file whenever the file lands in L0), and full or
  // incremental checkpoints.
  void Configure(const std::string& param, bool incremental) {
    const size_t space = param.find(" ingesting");
    const std::string size = param.substr(0, space);
    ASSERT_TRUE(config_.Set("state.backend.rocksdb.memory.managed", "false").ok());
    ASSERT_TRUE(config_.Set("state.backend.rocksdb.write-back-cache.size", size).ok());
    ASSERT_TRUE(config_
                    .Set("state.backend.rocksdb.write-back-cache.ingest-min-rows",
                         space == std::string::npos ? "0" : "1")
                    .ok());
    ASSERT_TRUE(config_.Set("state.backend.incremental", incremental ? "true" : "false").ok());
  }

  Result<std::unique_ptr<CheckpointableKeyedStateBackend>> Restore(const KeyedStateHandle& h,
                                                                   uint64_t id) {
    KeyedStateRestore restore{&storage_, id, {h}, false};
    return Make("rocksdb", "op_0", &restore);
  }

  void CheckpointsWhileWriting(bool incremental);

  static WriteBackCache* CacheOf(CheckpointableKeyedStateBackend& b) {
    return static_cast<RocksDbKeyedStateBackend&>(b).write_back_cache();
  }
};

// Reads see the last write while rows are evicted, written back and read again from RocksDB;
// the cache stays near its size.
TEST_P(WriteBackCacheTest, ReadsSeeTheLastWriteUnderEviction) {
  Configure(GetParam(), /*incremental=*/true);
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  KeyedStateBackend& b = **made;
  WriteBackCache* cache = CacheOf(**made);
  ASSERT_NE(cache, nullptr);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(42);
  uint64_t peak = 0;
  for (int i = 0; i < 40000; ++i) {
    RandomOp(b, s, model, rng, 2000);
    if (HasFatalFailure()) return;
    peak = std::max(peak, cache->bytes());
  }
  Check(b, model);
  EXPECT_LE(peak, cache->limit() + cache->limit() / 4 + 4096) << "the cache stays near its size";
}

// Each checkpoint holds the state at its synchronous part, while the task writes during its
// asynchronous part; the last one restores into a backend that goes on from there.
void WriteBackCacheTest::CheckpointsWhileWriting(bool incremental) {
  Configure(GetParam(), incremental);
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  CheckpointableKeyedStateBackend& b = **made;
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(7);
  std::map<uint64_t, std::pair<Model, KeyedStateHandle>> taken;
  for (uint64_t id = 1; id <= 6; ++id) {
    for (int i = 0; i < 3000; ++i) {
      RandomOp(b, s, model, rng, 1500);
      if (::testing::Test::HasFatalFailure()) return;
    }
    auto part = b.Snapshot(id);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    const Model at_barrier = model;
    Result<KeyedStateHandle> handle = Status::Internal("not run");
    std::thread async([&] { handle = (*part)->Run(); });
    for (int i = 0; i < 3000; ++i) {
      RandomOp(b, s, model, rng, 1500);
      if (::testing::Test::HasFatalFailure()) break;
    }
    async.join();
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    b.NotifyCheckpointComplete(id);
    taken.emplace(id, std::make_pair(at_barrier, *handle));
  }
  if (incremental && GetParam().ends_with("ingesting")) {
    // (A full checkpoint flushes nothing: with L0 empty the writer keeps to the memtable.)
    EXPECT_GT(CacheOf(b)->ingested_batches(), 0u) << "the writer ingested its batches";
  }
  for (const uint64_t id : {uint64_t{3}, uint64_t{6}}) {
    auto restored = Restore(taken.at(id).second, id);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    const States rs = Register(**restored);
    Model m = taken.at(id).first;
    Check(**restored, m);
    for (int i = 0; i < 3000; ++i) {
      RandomOp(**restored, rs, m, rng, 1500);
      if (::testing::Test::HasFatalFailure()) return;
    }
    Check(**restored, m);
  }
}

// Checkpoints hold the state at their synchronous part while the task keeps writing during
// their asynchronous part: incremental ones (the writer writes the dirty rows, then switches the
// memtables) and full ones (the writer writes them, then takes the RocksDB snapshot the
// asynchronous part reads; the task does not write them itself).
TEST_P(WriteBackCacheTest, CheckpointsHoldTheStateAtTheirSynchronousPart) {
  CheckpointsWhileWriting(/*incremental=*/true);
}
TEST_P(WriteBackCacheTest, FullCheckpointsHoldTheStateAtTheirSynchronousPart) {
  CheckpointsWhileWriting(/*incremental=*/false);
}

// Two checkpoints begun before the first one's asynchronous part ran (as at the end of the
// input): each holds its own synchronous part's state.
TEST_P(WriteBackCacheTest, OverlappingCheckpointsEachHoldTheirOwnState) {
  for (const bool incremental : {true, false}) {
    SCOPED_TRACE(incremental ? "incremental" : "full");
    Configure(GetParam(), incremental);
    const uint64_t base = incremental ? 0 : 10;  // each round its own checkpoints
    auto made = Make("rocksdb", "op_0", nullptr);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    CheckpointableKeyedStateBackend& b = **made;
    const States s = Register(b);
    Model model;
    std::mt19937_64 rng(11);
    for (int i = 0; i < 4000; ++i) RandomOp(b, s, model, rng, 1000);
    auto first = b.Snapshot(base + 1);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    const Model at_first = model;
    for (int i = 0; i < 4000; ++i) RandomOp(b, s, model, rng, 1000);
    auto second = b.Snapshot(base + 2);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    const Model at_second = model;
    for (int i = 0; i < 2000; ++i) RandomOp(b, s, model, rng, 1000);
    auto h1 = (*first)->Run();
    auto h2 = (*second)->Run();
    ASSERT_TRUE(h1.ok()) << h1.status().ToString();
    ASSERT_TRUE(h2.ok()) << h2.status().ToString();
    for (const auto& [id, handle, expected] :
         {std::tuple(base + 1, *h1, at_first), std::tuple(base + 2, *h2, at_second)}) {
      auto restored = Restore(handle, id);
      ASSERT_TRUE(restored.ok()) << restored.status().ToString();
      Check(**restored, expected);
    }
  }
}

// A full snapshot (and so a canonical savepoint) writes the dirty rows first.
TEST_P(WriteBackCacheTest, AFullSnapshotHoldsTheDirtyRows) {
  Configure(GetParam(), /*incremental=*/false);
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  CheckpointableKeyedStateBackend& b = **made;
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; ++i) RandomOp(b, s, model, rng, 800);
  auto part = b.Snapshot(1);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  const Model at_barrier = model;
  for (int i = 0; i < 2000; ++i) RandomOp(b, s, model, rng, 800);
  auto handle = (*part)->Run();
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  auto restored = Restore(*handle, 1);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, at_barrier);
}

// A full snapshot whose backend closes before the writer took its view: the asynchronous part
// either holds the state (the writer was first) or fails with an error that says so; it never
// reads a closed database.
TEST_P(WriteBackCacheTest, AFullSnapshotOutlivingItsBackendHoldsTheStateOrFails) {
  Configure(GetParam(), /*incremental=*/false);
  for (uint64_t id = 1; id <= 5; ++id) {
    auto made = Make("rocksdb", "op_" + std::to_string(id), nullptr);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    const States s = Register(**made);
    Model model;
    std::mt19937_64 rng(id);
    for (int i = 0; i < 3000; ++i) RandomOp(**made, s, model, rng, 600);
    auto part = (*made)->Snapshot(id);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    made->reset();
    auto handle = (*part)->Run();
    if (!handle.ok()) {
      EXPECT_NE(handle.status().ToString().find("closed"), std::string::npos)
          << handle.status().ToString();
      continue;
    }
    KeyedStateRestore restore{&storage_, id, {*handle}, false};
    auto restored = Make("rocksdb", "op_" + std::to_string(id), &restore);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    Check(**restored, model);
  }
}

// Checkpoints that each rewrite every row, ingested as SST files: the files land in L0, whence
// compactions merge them into L1 (this database stays far below L1's target size). RocksDB puts
// an ingested file in the deepest level above the first one it overlaps, so ingesting into a
// fresh database would stack one stale copy of the state per checkpoint in L6, L5, ... where no
// compaction reaches them.
class WriteBackIngestionTest : public WriteBackCacheTest {};

TEST_F(WriteBackIngestionTest, IngestedCheckpointsDoNotStackCopiesInDeepLevels) {
  Configure("64 mb ingesting", /*incremental=*/true);
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  CheckpointableKeyedStateBackend& b = **made;
  const States s = Register(b);
  Model model;
  for (uint64_t id = 1; id <= 8; ++id) {
    for (uint64_t k = 0; k < 2000; ++k) {
      std::string bytes;
      if (!Owns(b, k, &bytes)) continue;
      ASSERT_TRUE(b.SetCurrentKey(bytes).ok());
      const auto x = static_cast<int64_t>(id * 10000 + k);
      ASSERT_TRUE(s.value->Update(x).ok());
      model[k].value = x;
    }
    auto part = b.Snapshot(id);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    auto handle = (*part)->Run();
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    b.NotifyCheckpointComplete(id);
  }
  Check(b, model);
  EXPECT_GT(CacheOf(b)->ingested_batches(), 0u) << "the writer ingested its batches";
  std::vector<rocksdb::LiveFileMetaData> files;
  static_cast<RocksDbKeyedStateBackend&>(b).database()->GetLiveFilesMetaData(&files);
  for (const auto& f : files) {
    EXPECT_LE(f.level, 1) << f.column_family_name << f.name << " holds stale rows in a deep level";
  }
}

// List appends to rows the cache does not hold are merge operands until read: a read after they
// were written back (or while they are in flight) sees RocksDB's list followed by them.
TEST_P(WriteBackCacheTest, AppendsToUncachedListsReadBackInOrder) {
  Configure(GetParam(), /*incremental=*/true);
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  CheckpointableKeyedStateBackend& b = **made;
  auto list = *b.GetListState(ListStateDescriptor<int64_t>{"l"});
  std::map<uint64_t, std::vector<int64_t>> model;
  for (int round = 0; round < 4; ++round) {
    for (uint64_t k = 0; k < 3000; ++k) {
      ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
      ASSERT_TRUE(list->Add(round * 10000 + static_cast<int64_t>(k)).ok());
      model[k].push_back(round * 10000 + static_cast<int64_t>(k));
    }
    if (round == 1) {  // a checkpoint hands every append to the writer
      auto part = b.Snapshot(1);
      ASSERT_TRUE(part.ok()) << part.status().ToString();
      ASSERT_TRUE((*part)->Run().ok());
    }
  }
  for (uint64_t k = 0; k < 3000; k += 7) {
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<uint64_t>(), k).ok());
    ASSERT_EQ(*list->Get(), model[k]) << "key " << k;
    ASSERT_TRUE(list->Add(-1).ok());
    model[k].push_back(-1);
    ASSERT_EQ(*list->Get(), model[k]) << "key " << k;
  }
}

// Iterating one column family writes back only when one of its rows may not be in RocksDB yet:
// rows of other column families stay in the cache (a restored backend's timers are loaded
// without writing back every replayed row first).
TEST(WriteBackCacheDrainTest, DrainingAColumnFamilyWritesItsRowsOnly) {
  testing::TempDir tmp;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"a", {}}, {"b", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, tmp.Sub("db"), families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* a = handles[1];
  rocksdb::ColumnFamilyHandle* b = handles[2];
  const auto stored = [&](rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    std::string value;
    return db->Get(rocksdb::ReadOptions(), cf, key, &value).ok();
  };
  {
    WriteBackCache cache(db.get(), std::make_shared<WriteBackCacheBudget>(64 << 20));
    // Cache keys: two bytes naming the table, then the row key.
    ASSERT_TRUE(cache.Put(a, std::string("\x00\x01k1", 4), "v1").ok());
    ASSERT_TRUE(cache.Drain(b).ok());
    EXPECT_FALSE(stored(a, "k1")) << "b has no dirty row: nothing is written";
    ASSERT_TRUE(cache.Put(b, std::string("\x00\x02k2", 4), "v2").ok());
    ASSERT_TRUE(cache.Drain(b).ok());
    EXPECT_TRUE(stored(b, "k2"));
    EXPECT_TRUE(stored(a, "k1")) << "a drain writes every dirty row";
    ASSERT_TRUE(cache.Drain(a).ok());
    // Rows handed to the writer by a checkpoint count as not written until it wrote them.
    ASSERT_TRUE(cache.Put(a, std::string("\x00\x01k3", 4), "v3").ok());
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    auto done = cache.FreezeForBarrier([released] {
      released.wait();
      return Status::OK();
    });
    ASSERT_TRUE(cache.Drain(b).ok());
    std::thread drain([&] { EXPECT_TRUE(cache.Drain(a).ok()); });
    release.set_value();
    drain.join();
    EXPECT_TRUE(stored(a, "k3"));
    EXPECT_TRUE(done.Wait().ok());
  }
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

// Eviction keeps a row in use: a row read between every two writes of rows never read again
// stays cached while those are written back and evicted around it (the scan gives a used row a
// second chance instead of dropping the oldest). The row's RocksDB value is changed behind the
// cache's back, so a read that missed the cache would show it.
TEST(WriteBackCacheEvictionTest, ARowInUseOutlivesRowsNotReadAgain) {
  testing::TempDir tmp;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, tmp.Sub("db"), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto* cf = db->DefaultColumnFamily();
  WriteBackCache cache(db.get(), std::make_shared<WriteBackCacheBudget>(64 << 10));
  const std::string hot("\x00\x00hot", 5);  // cache keys: two bytes naming the table, the row
  ASSERT_TRUE(cache.Put(cf, hot, "cached").ok());
  ASSERT_TRUE(cache.Drain().ok());  // written: a clean row, the oldest, which eviction may drop
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, "hot", "behind the cache").ok());
  const std::string value(100, 'v');
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(cache.Put(cf, std::string("\x00\x00cold", 6) + std::to_string(i), value).ok());
    auto read = cache.Get(cf, hot);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ASSERT_EQ(read->value_or("(none)"), "cached") << "after " << i + 1 << " rows";
  }
  EXPECT_LT(cache.rows(), 2000u) << "rows were evicted";
}

// A checkpoint hands its rows over without waking the writer (WakeWriter does, once the barrier
// is forwarded): the batch is written all the same whether the writer is woken by WakeWriter, by
// a wait for the batch, by a task that needs a row's slot back, or by nobody.
TEST(WriteBackCacheWakeTest, ABatchHandedOverAtABarrierIsWrittenHoweverTheWriterWakes) {
  testing::TempDir tmp;
  rocksdb::Options options;
  options.create_if_missing = true;
  std::unique_ptr<rocksdb::DB> db;
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, tmp.Sub("db"), &raw).ok());
    db.reset(raw);
  }
  const auto stored = [&](const std::string& key) {
    std::string value;
    return db->Get(rocksdb::ReadOptions(), key, &value).ok() ? value : std::string("<none>");
  };
  auto* cf = db->DefaultColumnFamily();
  const auto key = [](const std::string& row) { return std::string("\x00\x00", 2) + row; };
  // Set by a barrier step: the writer ran it, after writing the batch's rows.
  struct Step {
    std::promise<void> ran;
    std::future<void> seen = ran.get_future();
  };
  const auto step_of = [](Step& step) {
    return [&step] {
      step.ran.set_value();
      return Status::OK();
    };
  };
  constexpr auto kNoHang = std::chrono::seconds(60);
  HandedOverBatch orphan;
  {
    WriteBackCache cache(db.get(), std::make_shared<WriteBackCacheBudget>(64 << 20));
    // Woken by nobody: the writer looks at its queue on its own. (Asleep by then.)
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(cache.Put(cf, key("a"), "1").ok());
    Step alone;
    HandedOverBatch first = cache.FreezeForBarrier(step_of(alone));
    ASSERT_EQ(alone.seen.wait_for(kNoHang), std::future_status::ready);
    EXPECT_EQ(stored("a"), "1");
    EXPECT_TRUE(first.Wait().ok());
    // Woken by WakeWriter.
    ASSERT_TRUE(cache.Put(cf, key("b"), "2").ok());
    Step woken;
    HandedOverBatch second = cache.FreezeForBarrier(step_of(woken));
    cache.WakeWriter();
    ASSERT_EQ(woken.seen.wait_for(kNoHang), std::future_status::ready);
    EXPECT_EQ(stored("b"), "2");
    EXPECT_TRUE(second.Wait().ok());
    // Woken by the wait for the batch.
    ASSERT_TRUE(cache.Put(cf, key("c"), "3").ok());
    Step waited;
    EXPECT_TRUE(cache.FreezeForBarrier(step_of(waited)).Wait().ok());
    EXPECT_EQ(waited.seen.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_EQ(stored("c"), "3");
    // Woken by the task: a row written in two batches in flight needs its first slot back.
    ASSERT_TRUE(cache.Put(cf, key("d"), "4").ok());
    Step one, two;
    HandedOverBatch third = cache.FreezeForBarrier(step_of(one));
    ASSERT_TRUE(cache.Put(cf, key("d"), "5").ok());
    HandedOverBatch fourth = cache.FreezeForBarrier(step_of(two));
    ASSERT_TRUE(cache.Put(cf, key("d"), "6").ok());
    EXPECT_TRUE(third.Wait().ok());
    EXPECT_TRUE(fourth.Wait().ok());
    EXPECT_EQ(stored("d"), "5");
    ASSERT_TRUE(cache.Drain().ok());
    EXPECT_EQ(stored("d"), "6");
    // A batch outliving its cache: its wait wakes nobody's writer and reports what happened.
    ASSERT_TRUE(cache.Put(cf, key("e"), "7").ok());
    orphan = cache.FreezeForBarrier([] { return Status::OK(); });
  }
  const Status written = orphan.Wait();
  EXPECT_TRUE(written.ok() || written.code() == StatusCode::kAborted) << written.ToString();
}

INSTANTIATE_TEST_SUITE_P(State, WriteBackCacheTest,
                         ::testing::Values("64 kb", "64 mb", "64 kb ingesting", "64 mb ingesting"),
                         [](const auto& info) {
                           std::string name =
                               info.param.starts_with("64 kb") ? "Evicting" : "HoldingAll";
                           if (info.param.ends_with("ingesting")) name += "Ingesting";
                           return name;
                         });

}  // namespace
}  // namespace weir
