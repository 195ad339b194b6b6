#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "checkpoint/checkpoint_metadata.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

class FullSnapshotTest : public ::testing::Test {
 protected:
  RocksDbBackendOptions Options(const std::string& local, KeyGroupRange range = {},
                                int max_p = 128) {
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub(local);
    o.max_parallelism = max_p;
    o.key_group_range = range;
    return o;
  }
  std::unique_ptr<RocksDbKeyedStateBackend> Open(const RocksDbBackendOptions& o) {
    auto b = RocksDbKeyedStateBackend::Open(o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return std::move(b).value();
  }
  std::unique_ptr<RocksDbKeyedStateBackend> Restore(const CheckpointStorage& storage, uint64_t id,
                                                    const RocksDbBackendOptions& o) {
    auto m = ReadCheckpointMetadata(storage.fs(), storage.MetadataPath(id));
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    auto b = RestoreKeyedStateBackend(storage, id, m->backends.at(0), o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  void Key(KeyedStateBackend& b, const std::string& k) {
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<std::string>(), k).ok());
  }

  testing::TempDir tmp_;
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
};

ReducingStateDescriptor<int64_t> SumDescriptor() {
  return {"sum", [](const int64_t& a, const int64_t& b) { return a + b; }};
}
AggregatingStateDescriptor<double, std::string, std::string> ConcatDescriptor() {
  return {"concat",
          {[] { return std::string(); },
           [](std::string acc, const double& v) { return acc + std::to_string(v) + ";"; },
           [](const std::string& acc) { return "[" + acc + "]"; }}};
}

TEST_F(FullSnapshotTest, EveryStateTypeComesBackIdentical) {
  ASSERT_TRUE(storage_.Initialize().ok());
  auto b = Open(Options("a"));
  auto v = *b->GetValueState(ValueStateDescriptor<double>{"value"});
  auto l = *b->GetListState(ListStateDescriptor<weir::Bytes>{"list"});
  auto m = *b->GetMapState(MapStateDescriptor<std::string, int32_t>{"map"});
  auto r = *b->GetReducingState(SumDescriptor());
  auto a = *b->GetAggregatingState(ConcatDescriptor());
  for (int i = 0; i < 300; ++i) {
    Key(*b, "k" + std::to_string(i));
    for (const char* ns : {"", "w1"}) {
      v->SetCurrentNamespace(ns);
      l->SetCurrentNamespace(ns);
      m->SetCurrentNamespace(ns);
      ASSERT_TRUE(v->Update(i * 1.5).ok());
      ASSERT_TRUE(l->Add(weir::Bytes{uint8_t(i), 0, 1}).ok());
      ASSERT_TRUE(l->Add(weir::Bytes{}).ok());
      ASSERT_TRUE(m->Put("a" + std::string(ns), i).ok());
      ASSERT_TRUE(m->Put("b", -i).ok());
    }
    ASSERT_TRUE(r->Add(i).ok());
    ASSERT_TRUE(r->Add(1).ok());
    ASSERT_TRUE(a->Add(i / 2.0).ok());
  }
  auto cp = testing::TakeFullCheckpoint(*b, storage_, 1);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->backends[0].states.size(), 5u);

  auto restored = Restore(storage_, 1, Options("restored"));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->RegisteredStates(), b->RegisteredStates());
  auto v2 = *restored->GetValueState(ValueStateDescriptor<double>{"value"});
  auto l2 = *restored->GetListState(ListStateDescriptor<weir::Bytes>{"list"});
  auto m2 = *restored->GetMapState(MapStateDescriptor<std::string, int32_t>{"map"});
  auto r2 = *restored->GetReducingState(SumDescriptor());
  auto a2 = *restored->GetAggregatingState(ConcatDescriptor());
  for (int i = 0; i < 300; ++i) {
    const std::string k = "k" + std::to_string(i);
    Key(*b, k);
    Key(*restored, k);
    for (const char* ns : {"", "w1"}) {
      for (StateBase* s : std::initializer_list<StateBase*>{v, l, m, v2, l2, m2}) {
        s->SetCurrentNamespace(ns);
      }
      EXPECT_EQ(*v2->Value(), *v->Value());
      EXPECT_EQ(*l2->Get(), *l->Get());
      EXPECT_EQ(*m2->Entries(), *m->Entries());
    }
    EXPECT_EQ(**r2->Get(), i + 1);
    EXPECT_EQ(*a2->Get(), *a->Get());
  }
  EXPECT_EQ(restored->GetKeys("map", *DefaultSerializer<std::string>(), "w1")->size(), 300u);
}

TEST_F(FullSnapshotTest, WritesDuringTheAsyncPartDoNotLeakIntoTheSnapshot) {
  ASSERT_TRUE(storage_.Initialize().ok());
  auto b = Open(Options("a"));
  auto v = *b->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  auto l = *b->GetListState(ListStateDescriptor<int64_t>{"l"});
  for (int i = 0; i < 2000; ++i) {
    Key(*b, "k" + std::to_string(i));
    ASSERT_TRUE(v->Update(i).ok());
    ASSERT_TRUE(l->Add(i).ok());
  }
  FullSnapshotStrategy strategy(*b, storage_);
  auto async_part = strategy.SyncPart(1);
  ASSERT_TRUE(async_part.ok());

  // The async part runs on another thread while this one overwrites, deletes, adds keys and
  // registers a new state, as a subtask does after its synchronous part.
  Result<KeyedStateHandle> handle = Status::Internal("not run");
  std::thread uploader([&] { handle = (*async_part)->Run(); });
  auto late = *b->GetValueState(ValueStateDescriptor<int64_t>{"late"});
  for (int i = 0; i < 3000; ++i) {
    Key(*b, "k" + std::to_string(i));
    ASSERT_TRUE(v->Update(-1).ok());
    ASSERT_TRUE(l->Add(-1).ok());
    ASSERT_TRUE(late->Update(1).ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(v->Clear().ok());
    }
  }
  uploader.join();
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  EXPECT_EQ(handle->states.size(), 2u);  // "late" was registered after the sync part

  CheckpointMetadata m;
  m.checkpoint_id = 1;
  m.job_id = "job";
  m.backends.push_back(*handle);
  ASSERT_TRUE(WriteCheckpointMetadata(storage_, m).ok());
  auto restored = Restore(storage_, 1, Options("restored"));
  ASSERT_NE(restored, nullptr);
  auto v2 = *restored->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  auto l2 = *restored->GetListState(ListStateDescriptor<int64_t>{"l"});
  for (int i = 0; i < 2000; ++i) {
    Key(*restored, "k" + std::to_string(i));
    ASSERT_EQ(**v2->Value(), i);
    ASSERT_EQ(*l2->Get(), std::vector<int64_t>{i});
  }
  EXPECT_EQ(restored->GetKeys("v", *DefaultSerializer<std::string>())->size(), 2000u);
  EXPECT_EQ(restored->RegisteredStates().size(), 2u);
}

TEST_F(FullSnapshotTest, RestoresAfterTheJobDirectoryWasCopiedElsewhere) {
  ASSERT_TRUE(storage_.Initialize().ok());
  auto b = Open(Options("a"));
  auto v = *b->GetValueState(ValueStateDescriptor<std::string>{"v"});
  Key(*b, "key");
  ASSERT_TRUE(v->Update("value").ok());
  ASSERT_TRUE(testing::TakeFullCheckpoint(*b, storage_, 3).ok());

  std::filesystem::create_directories(tmp_.Sub("moved"));
  std::filesystem::copy(storage_.job_dir(), tmp_.Sub("moved/job"),
                        std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(storage_.job_dir());
  auto fs = NewPosixFileSystem();
  auto pointer = CheckpointStorage::ResolvePointer(*fs, tmp_.Sub("moved/job/chk-3"));
  ASSERT_TRUE(pointer.ok());
  const CheckpointStorage moved(fs, pointer->job_dir);
  auto restored = Restore(moved, 3, Options("restored"));
  ASSERT_NE(restored, nullptr);
  Key(*restored, "key");
  EXPECT_EQ(**(*restored->GetValueState(ValueStateDescriptor<std::string>{"v"}))->Value(), "value");
}

TEST_F(FullSnapshotTest, PartialRangeAndWideMaxParallelism) {
  ASSERT_TRUE(storage_.Initialize().ok());
  const auto range = KeyGroupRange::ForSubtask(1000, 3, 1);
  auto b = Open(Options("a", range, 1000));
  auto v = *b->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  int stored = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string k = "k" + std::to_string(i);
    if (!b->SetCurrentKey(*DefaultSerializer<std::string>(), k).ok()) continue;
    ASSERT_TRUE(v->Update(i).ok());
    ++stored;
  }
  auto cp = testing::TakeFullCheckpoint(*b, storage_, 1);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->backends[0].key_group_range, range);
  auto restored = Restore(storage_, 1, Options("r", range, 1000));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->GetKeys("v", *DefaultSerializer<std::string>())->size(),
            static_cast<size_t>(stored));
}

TEST_F(FullSnapshotTest, EmptyBackendCheckpointsAndRestores) {
  ASSERT_TRUE(storage_.Initialize().ok());
  auto b = Open(Options("a"));
  ASSERT_TRUE(testing::TakeFullCheckpoint(*b, storage_, 1).ok());
  auto restored = Restore(storage_, 1, Options("r"));
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(restored->RegisteredStates().empty());
}

TEST_F(FullSnapshotTest, RestoringIntoAnotherKeyGroupRangeIsAClearError) {
  ASSERT_TRUE(storage_.Initialize().ok());
  auto b = Open(Options("a", KeyGroupRange::Of(0, 63)));
  ASSERT_TRUE(testing::TakeFullCheckpoint(*b, storage_, 1).ok());
  auto m = ReadCheckpointMetadata(storage_.fs(), storage_.MetadataPath(1));
  ASSERT_TRUE(m.ok());
  auto other = RestoreKeyedStateBackend(storage_, 1, m->backends[0], Options("r"));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("[0, 63]"), std::string::npos)
      << other.status().ToString();
  EXPECT_NE(other.status().message().find("checkpoint 1"), std::string::npos);
  auto other_max = RestoreKeyedStateBackend(storage_, 1, m->backends[0],
                                            Options("r", KeyGroupRange::Of(0, 63), 256));
  EXPECT_FALSE(other_max.ok());
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("r")));
}

}  // namespace
}  // namespace weir
