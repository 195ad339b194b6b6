// Each kind of damage (missing, truncated, one flipped byte) to each kind of checkpoint file
// (the key-group stream and `_metadata`) is detected with the file named, before any backend is
// built, and leaves nothing half-built behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/checkpoint_metadata.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

enum class Damage { kMissing, kTruncated, kFlippedByte };

class RestoreDamageTest : public ::testing::TestWithParam<std::tuple<Damage, uint64_t>> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage_.Initialize().ok());
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("live");
    auto b = std::move(RocksDbKeyedStateBackend::Open(o)).value();
    auto v = *b->GetValueState(ValueStateDescriptor<int64_t>{"v"});
    auto m = *b->GetMapState(MapStateDescriptor<int64_t, std::string>{"m"});
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(b->SetCurrentKey(*DefaultSerializer<int64_t>(), i).ok());
      ASSERT_TRUE(v->Update(i).ok());
      ASSERT_TRUE(m->Put(i, std::string(50, 'x')).ok());
    }
    ASSERT_TRUE(testing::TakeFullCheckpoint(*b, storage_, 1).ok());
  }

  void Apply(Damage d, const std::string& path, uint64_t where) {
    switch (d) {
      case Damage::kMissing:
        std::filesystem::remove(path);
        break;
      case Damage::kTruncated:
        testing::Truncate(path, testing::FileSize(path) * where / 100);
        break;
      case Damage::kFlippedByte:
        testing::FlipByte(path, testing::FileSize(path) * where / 100);
        break;
    }
  }

  RocksDbBackendOptions RestoreOptions() {
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("restored");
    return o;
  }

  testing::TempDir tmp_;
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
};

TEST_P(RestoreDamageTest, DamagedStateFileIsDetectedWithItsName) {
  const auto [damage, where] = GetParam();
  auto m = ReadCheckpointMetadata(storage_.fs(), storage_.MetadataPath(1));
  ASSERT_TRUE(m.ok());
  const std::string relative = m->backends[0].files[0].path;
  Apply(damage, *storage_.ResolveRelative(relative), where);

  auto restored = RestoreKeyedStateBackend(storage_, 1, m->backends[0], RestoreOptions());
  ASSERT_FALSE(restored.ok());
  const std::string msg = restored.status().message();
  EXPECT_NE(msg.find(relative), std::string::npos) << msg;
  EXPECT_NE(msg.find("checkpoint 1"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("restored"))) << "a failed restore left files";
}

TEST_P(RestoreDamageTest, DamagedMetadataIsDetectedWithItsName) {
  const auto [damage, where] = GetParam();
  Apply(damage, storage_.MetadataPath(1), where);
  auto m = ReadCheckpointMetadata(storage_.fs(), storage_.MetadataPath(1));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(storage_.MetadataPath(1)), std::string::npos)
      << m.status().ToString();
}

// A state file replaced by a symbolic link (to a copy of the very same bytes, elsewhere) is
// refused: the files of a checkpoint are regular files inside its job directory.
TEST(RestoreSymlinkTest, SymlinkedStateFileIsRefused) {
  testing::TempDir tmp;
  const auto storage = CheckpointStorage::ForJob(NewPosixFileSystem(), tmp.Sub("ckpt"), "job");
  ASSERT_TRUE(storage.Initialize().ok());
  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = tmp.Sub("live");
  auto b = std::move(RocksDbKeyedStateBackend::Open(o)).value();
  auto v = *b->GetValueState(ValueStateDescriptor<int64_t>{"v"});
  ASSERT_TRUE(b->SetCurrentKey(*DefaultSerializer<int64_t>(), 1).ok());
  ASSERT_TRUE(v->Update(1).ok());
  auto m = testing::TakeFullCheckpoint(*b, storage, 1);
  ASSERT_TRUE(m.ok());
  const std::string file = *storage.ResolveRelative(m->backends[0].files[0].path);
  std::filesystem::copy_file(file, tmp.Sub("outside.kgs"));
  std::filesystem::remove(file);
  std::filesystem::create_symlink(tmp.Sub("outside.kgs"), file);
  o.local_dir = tmp.Sub("restored");
  auto restored = RestoreKeyedStateBackend(storage, 1, m->backends[0], o);
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.status().message().find("is a symbolic link"), std::string::npos)
      << restored.status().message();
}

INSTANTIATE_TEST_SUITE_P(EachDamage, RestoreDamageTest,
                         ::testing::Values(std::make_tuple(Damage::kMissing, 0),
                                           std::make_tuple(Damage::kTruncated, 0),
                                           std::make_tuple(Damage::kTruncated, 50),
                                           std::make_tuple(Damage::kTruncated, 99),
                                           std::make_tuple(Damage::kFlippedByte, 0),
                                           std::make_tuple(Damage::kFlippedByte, 30),
                                           std::make_tuple(Damage::kFlippedByte, 99)));

}  // namespace
}  // namespace weir
