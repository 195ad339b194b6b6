#include "runtime/internal_timer_service.h"

#include <gtest/gtest.h>

#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(InternalTimerServiceTest, TimersAreKeyedStateAndComeBackWithARestore) {
  testing::TempDir tmp;
  RocksDbBackendOptions options{"op_0", tmp.Sub("db"), 128, {}, {}, {}};
  auto backend = RocksDbKeyedStateBackend::Open(options);
  ASSERT_TRUE(backend.ok());
  std::string key;
  InternalTimerService timers(backend->get(), &key);
  ASSERT_TRUE(timers.Open().ok());
  for (std::string k : {"a", "b", "c"}) {
    key = k;
    ASSERT_TRUE((*backend)->SetCurrentKey(key).ok());
    ASSERT_TRUE(timers.RegisterProcessingTimeTimer(100 + k[0]).ok());
    ASSERT_TRUE(timers.RegisterProcessingTimeTimer(500).ok());
  }
  key = "b";
  ASSERT_TRUE((*backend)->SetCurrentKey(key).ok());
  ASSERT_TRUE(timers.DeleteProcessingTimeTimer(500).ok());
  EXPECT_EQ(timers.size(), 5u);
  EXPECT_EQ(timers.NextTimer(), 100 + 'a');

  const auto storage = CheckpointStorage::ForJob(NewPosixFileSystem(), tmp.Sub("chk"), "job");
  ASSERT_TRUE(storage.Initialize().ok());
  auto checkpoint = testing::TakeFullCheckpoint(**backend, storage, 1);
  ASSERT_TRUE(checkpoint.ok());
  options.local_dir = tmp.Sub("restored");
  auto restored = RestoreKeyedStateBackend(storage, 1, checkpoint->backends[0], options);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  std::string restored_key;
  InternalTimerService again(restored->get(), &restored_key);
  ASSERT_TRUE(again.Open().ok());
  EXPECT_EQ(again.size(), 5u);
  std::vector<std::pair<int64_t, std::string>> fired;
  ASSERT_TRUE(again
                  .FireDue(200,
                           [&](int64_t t, const std::string& k) {
                             fired.emplace_back(t, k);
                             return Status::OK();
                           })
                  .ok());
  EXPECT_EQ(fired, (std::vector<std::pair<int64_t, std::string>>{
                       {100 + 'a', "a"}, {100 + 'b', "b"}, {100 + 'c', "c"}}));
  EXPECT_EQ(again.NextTimer(), 500);
  EXPECT_EQ(again.size(), 2u);
}

}  // namespace
}  // namespace weir
