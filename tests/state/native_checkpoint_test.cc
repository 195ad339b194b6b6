// The two halves of a native checkpoint: what the begin saw is what the checkpoint holds, however
// the writes after it land; a later flush that wins the race is refused, never taken in.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <set>

#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

class NativeCheckpointTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksDbKeyedStateBackend> Open(bool async_flush, RocksDbTuning tuning = {}) {
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("local-" + std::to_string(++opened_));
    o.tuning = tuning;
    o.tuning.async_flush = async_flush;
    return std::move(RocksDbKeyedStateBackend::Open(o)).value();
  }

  // Opens the checkpoint in `dir` as a restored backend.
  std::unique_ptr<RocksDbKeyedStateBackend> OpenCheckpoint(const std::string& dir,
                                                           const RocksDbKeyedStateBackend& from,
                                                           RocksDbTuning tuning = {}) {
    RocksDbBackendOptions o;
    o.tuning = tuning;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("restored-" + std::to_string(++opened_));
    std::filesystem::create_directories(o.local_dir);
    std::filesystem::copy(dir, RocksDbKeyedStateBackend::DbDir(o.local_dir));
    auto restored = RocksDbKeyedStateBackend::OpenRestored(o, from.RegisteredStates());
    EXPECT_TRUE(restored.ok()) << restored.status().ToString();
    return std::move(restored).value();
  }

  static void Put(RocksDbKeyedStateBackend& b, int64_t key, int64_t value) {
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<int64_t>(), key).ok());
    auto state = b.GetValueState(ValueStateDescriptor<int64_t>{"v"});
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE((*state)->Update(value).ok());
  }

  static std::optional<int64_t> Get(RocksDbKeyedStateBackend& b, int64_t key) {
    EXPECT_TRUE(b.SetCurrentKey(*DefaultSerializer<int64_t>(), key).ok());
    auto state = b.GetValueState(ValueStateDescriptor<int64_t>{"v"});
    EXPECT_TRUE(state.ok());
    return *(*state)->Value();
  }

  testing::TempDir tmp_;
  int opened_ = 0;
};

TEST_F(NativeCheckpointTest, HoldsExactlyTheWritesBeforeTheBegin) {
  for (bool async_flush : {true, false}) {
    SCOPED_TRACE(async_flush ? "async flush" : "sync flush");
    auto backend = Open(async_flush);
    for (int64_t k = 0; k < 2000; ++k) Put(*backend, k, k);
    // Some of the state is in SSTs already, some only in the memtable.
    ASSERT_TRUE(backend->CreateNativeCheckpoint(tmp_.Sub("warm-" + std::to_string(opened_))).ok());
    for (int64_t k = 1000; k < 3000; ++k) Put(*backend, k, -k);
    const std::string dir = tmp_.Sub("chk-" + std::to_string(opened_));
    auto begun = backend->BeginNativeCheckpoint(dir);
    ASSERT_TRUE(begun.ok()) << begun.status().ToString();
    // After the begin: overwrite, add, and fill memtables that the flush may or may not take.
    for (int64_t k = 0; k < 4000; ++k) Put(*backend, k, 1000000 + k);
    auto files = (*begun)->Finish();
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    EXPECT_FALSE(files->empty());

    auto restored = OpenCheckpoint(dir, *backend);
    for (int64_t k = 0; k < 4000; ++k) {
      const std::optional<int64_t> expected =
          k < 1000 ? std::optional<int64_t>(k)
                   : (k < 3000 ? std::optional<int64_t>(-k) : std::nullopt);
      ASSERT_EQ(Get(*restored, k), expected) << "key " << k;
    }
    // The live backend kept the later writes.
    EXPECT_EQ(Get(*backend, 5), 1000005);
  }
}

// A state registered after the begin (lazily, as the event-time timers are) creates its column
// family before the deferred flush links the files: the checkpoint's MANIFEST lists it though its
// states do not. The restore opens it and drops it; the checkpointed states are intact.
TEST_F(NativeCheckpointTest, AStateRegisteredAfterTheBeginIsNotPartOfTheCheckpoint) {
  auto backend = Open(/*async_flush=*/true);
  for (int64_t k = 0; k < 500; ++k) Put(*backend, k, k);
  const std::vector<StateMetaInfo> at_begin = backend->RegisteredStates();
  const std::string dir = tmp_.Sub("chk-late-state");
  auto begun = backend->BeginNativeCheckpoint(dir);
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  ASSERT_TRUE(backend->SetCurrentKey(*DefaultSerializer<int64_t>(), 7).ok());
  auto late = backend->GetValueState(ValueStateDescriptor<int64_t>{"late"});
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE((*late)->Update(1).ok());
  auto files = (*begun)->Finish();
  ASSERT_TRUE(files.ok()) << files.status().ToString();

  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = tmp_.Sub("restored-late");
  std::filesystem::create_directories(o.local_dir);
  std::filesystem::copy(dir, RocksDbKeyedStateBackend::DbDir(o.local_dir));
  auto restored = RocksDbKeyedStateBackend::OpenRestored(o, at_begin);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  for (int64_t k = 0; k < 500; ++k) ASSERT_EQ(Get(**restored, k), k) << k;
  EXPECT_EQ((*restored)->RegisteredStates().size(), at_begin.size());
}

TEST_F(NativeCheckpointTest, ALaterFlushThatWinsTheRaceIsRefusedAndTheNextBeginFlushesAtOnce) {
  auto backend = Open(/*async_flush=*/true);
  for (int64_t k = 0; k < 500; ++k) Put(*backend, k, k);
  auto begun = backend->BeginNativeCheckpoint(tmp_.Sub("chk-1"));
  ASSERT_TRUE(begun.ok());
  for (int64_t k = 0; k < 500; ++k) Put(*backend, k, -k);
  // Writes after the begin reach an SST before Finish looks (here: another flush).
  ASSERT_TRUE(backend->CreateNativeCheckpoint(tmp_.Sub("other")).ok());
  auto files = (*begun)->Finish();
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(files.status().message().find("after the checkpoint"), std::string::npos)
      << files.status().ToString();
  begun->reset();

  // The next begin takes the checkpoint at once: later writes cannot get in.
  const std::string dir = tmp_.Sub("chk-2");
  auto next = backend->BeginNativeCheckpoint(dir);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/CURRENT"));
  for (int64_t k = 0; k < 500; ++k) Put(*backend, k, 7);
  ASSERT_TRUE(backend->CreateNativeCheckpoint(tmp_.Sub("other-2")).ok());
  ASSERT_TRUE((*next)->Finish().ok());
  auto restored = OpenCheckpoint(dir, *backend);
  EXPECT_EQ(Get(*restored, 3), -3);

  // And the one after that defers its flush again.
  const std::string dir3 = tmp_.Sub("chk-3");
  auto third = backend->BeginNativeCheckpoint(dir3);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(std::filesystem::exists(dir3));
  ASSERT_TRUE((*third)->Finish().ok());
}

// A user may change the compaction keys between runs: a checkpoint taken under one style
// restores under the other, with every key.
TEST_F(NativeCheckpointTest, ACheckpointRestoresUnderTheOtherCompactionStyle) {
  RocksDbTuning universal;
  universal.compaction_style = RocksDbCompactionStyle::kUniversal;
  universal.level0_file_num_compaction_trigger = 2;
  universal.max_size_amplification_percent = 50;
  RocksDbTuning level;
  level.level0_file_num_compaction_trigger = 2;
  for (const auto& [from, to] : {std::pair{universal, level}, std::pair{level, universal}}) {
    auto backend = Open(/*async_flush=*/true, from);
    for (int round = 0; round < 6; ++round) {  // several flushes: compactions run
      for (int64_t k = 0; k < 3000; ++k) Put(*backend, k, round * 10000 + k);
      ASSERT_TRUE(backend->CreateNativeCheckpoint(tmp_.Sub("r-" + std::to_string(++opened_))).ok());
    }
    ASSERT_TRUE(backend->WaitForBackgroundWork().ok());
    const std::string dir = tmp_.Sub("chk-" + std::to_string(++opened_));
    auto begun = backend->BeginNativeCheckpoint(dir);
    ASSERT_TRUE(begun.ok());
    ASSERT_TRUE((*begun)->Finish().ok());
    auto restored = OpenCheckpoint(dir, *backend, to);
    for (int64_t k = 0; k < 3000; ++k) ASSERT_EQ(Get(*restored, k), 50000 + k) << "key " << k;
    // The restored backend takes writes and checkpoints under its own style.
    for (int64_t k = 0; k < 3000; ++k) Put(*restored, k, -k);
    ASSERT_TRUE(
        restored->CreateNativeCheckpoint(tmp_.Sub("after-" + std::to_string(opened_))).ok());
    ASSERT_TRUE(restored->WaitForBackgroundWork().ok());
    EXPECT_EQ(Get(*restored, 7), -7);
  }
}

// SST files at `level` of every column family of the database in `dir` (a native checkpoint).
int FilesAtLevel(const std::string& dir, int level) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status opened =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, families, &handles, &db);
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  if (!opened.ok()) return -1;
  int files = 0;
  for (auto* h : handles) {
    std::string n;
    EXPECT_TRUE(db->GetProperty(h, "rocksdb.num-files-at-level" + std::to_string(level), &n));
    files += std::stoi(n);
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  delete db;
  return files;
}

std::set<std::string> SstNames(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".sst")) names.insert(name);
  }
  return names;
}

// A materialization merges L0 into L1 when neither was uploaded yet, with the values of the
// begin; once L1 was uploaded (the next materialization's base) it leaves L0 as it is.
TEST_F(NativeCheckpointTest, AMaterializationMergesLevel0IntoLevel1UnlessLevel1WasUploaded) {
  RocksDbTuning no_compactions;  // three L0 files stay in L0
  no_compactions.level0_file_num_compaction_trigger = 8;
  auto backend = Open(/*async_flush=*/true, no_compactions);
  for (int round = 0; round < 3; ++round) {
    for (int64_t k = 0; k < 3000; ++k) Put(*backend, k, round * 10000 + k);
    ASSERT_TRUE(backend->CreateNativeCheckpoint(tmp_.Sub("r-" + std::to_string(++opened_))).ok());
  }
  for (int64_t k = 0; k < 1000; ++k) Put(*backend, k, -k);  // in the memtable at the begin
  NativeCheckpointOptions merge;
  merge.merge_level0 = true;
  const std::string first = tmp_.Sub("materialization-1");
  auto begun = backend->BeginNativeCheckpoint(first, merge);
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  for (int64_t k = 0; k < 3000; ++k) Put(*backend, k, 7);  // after the begin
  auto files = (*begun)->Finish();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(FilesAtLevel(first, 0), 0);
  EXPECT_GE(FilesAtLevel(first, 1), 1);
  {
    auto restored = OpenCheckpoint(first, *backend);
    for (int64_t k = 0; k < 3000; ++k) {
      ASSERT_EQ(Get(*restored, k), k < 1000 ? -k : 20000 + k) << "key " << k;
    }
  }

  // The next one builds on the first: its L1 files are uploaded, merging would upload them again.
  merge.uploaded = SstNames(first);
  ASSERT_FALSE(merge.uploaded.empty());
  const std::string second = tmp_.Sub("materialization-2");
  begun = backend->BeginNativeCheckpoint(second, merge);
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  files = (*begun)->Finish();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(FilesAtLevel(second, 0), 1);
  for (const auto& name : merge.uploaded) EXPECT_TRUE(SstNames(second).count(name)) << name;
  auto restored = OpenCheckpoint(second, *backend);
  for (int64_t k = 0; k < 3000; ++k) ASSERT_EQ(Get(*restored, k), 7) << "key " << k;
}

TEST_F(NativeCheckpointTest, ABackendWithoutStateCheckpoints) {
  auto backend = Open(/*async_flush=*/true);
  const std::string dir = tmp_.Sub("chk-empty");
  auto begun = backend->BeginNativeCheckpoint(dir);
  ASSERT_TRUE(begun.ok());
  auto files = (*begun)->Finish();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir + "/CURRENT"));
}

}  // namespace
}  // namespace weir
