// The checkpoint contract over both backends: what one backend writes (all state kinds,
// namespaces) comes back identical from its full snapshot, restored into either backend; writes
// made after the synchronous part are not in the snapshot; keys are listed in key-group order.
#include <gtest/gtest.h>

#include <tuple>

#include "common/thread_pool.h"
#include "io/file_system.h"
#include "state/state_backends.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

class BackendContractTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  Result<std::unique_ptr<CheckpointableKeyedStateBackend>> Make(const std::string& type,
                                                                const std::string& id,
                                                                const KeyedStateRestore* restore) {
    KeyedStateBackendParameters p;
    p.backend_id = id;
    p.local_dir = tmp_.Sub("local-" + std::to_string(made_++));  // each its own
    p.max_parallelism = 128;
    p.key_group_range = KeyGroupRange::Of(0, 127);
    p.config = &config_;
    p.checkpoint_storage = &storage_;
    p.io_pool = &pool_;
    return CreateKeyedStateBackend(type, p, restore);
  }

  testing::TempDir tmp_;
  Configuration config_;
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
  ThreadPool pool_{2};
  int made_ = 0;
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

INSTANTIATE_TEST_SUITE_P(State, BackendContractTest,
                         ::testing::Combine(::testing::Values("rocksdb", "hashmap"),
                                            ::testing::Values("rocksdb", "hashmap")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_to_" + std::get<1>(info.param);
                         });

TEST(StateBackendsTest, AnUnknownTypeIsRefusedNamingTheKnownOnes) {
  KeyedStateBackendParameters p;
  p.backend_id = "x_0";
  auto made = CreateKeyedStateBackend("memory", p, nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("known: rocksdb, hashmap"), std::string::npos);
}

}  // namespace
}  // namespace weir
