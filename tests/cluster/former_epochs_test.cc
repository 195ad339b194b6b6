// The directories of a shard's former owners: only recognized job directories in epoch
// directories below the current epoch are deleted; the current and later epochs, anything not
// weir's, odd names and planted links stay.
#include "cluster/former_epochs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/checkpoint_storage.h"
#include "testing/temp_dir.h"

namespace weir::cluster {
namespace {

namespace fs = std::filesystem;

TEST(EpochDirNameTest, RoundTripsAndRefusesOtherNames) {
  EXPECT_EQ(EpochDirName(7), "epoch-7");
  EXPECT_EQ(ParseEpochDirName("epoch-7"), 7);
  EXPECT_EQ(ParseEpochDirName("epoch-123456789012345678"), 123456789012345678);
  for (const char* bad : {"epoch-", "epoch-0", "epoch-07", "epoch--1", "epoch-1x", "epoch-1 ",
                          "Epoch-1", "epoch-1234567890123456789", "x-epoch-1", "../epoch-1"}) {
    EXPECT_FALSE(ParseEpochDirName(bad).has_value()) << bad;
  }
}

class FormerEpochsTest : public ::testing::Test {
 protected:
  std::string shard() { return tmp_.Sub("shards/3"); }
  // A job directory weir created (with its marker) and a file in its shared/.
  std::string MakeJobDir(const std::string& epoch_dir, const std::string& id) {
    const std::string dir = shard() + "/" + epoch_dir + "/" + id;
    EXPECT_TRUE(CheckpointStorage(fs_, dir).Initialize().ok());
    std::ofstream(dir + "/shared/state.sst") << "bytes";
    return dir;
  }

  testing::TempDir tmp_;
  std::shared_ptr<FileSystem> fs_ = DefaultLocalFileSystem();
};

TEST_F(FormerEpochsTest, DeletesOnlyJobDirectoriesOfEarlierEpochs) {
  const std::string e1 = MakeJobDir("epoch-1", "aaaa");
  const std::string e2a = MakeJobDir("epoch-2", "bbbb");
  const std::string e2b = MakeJobDir("epoch-2", "cccc");
  const std::string e3 = MakeJobDir("epoch-3", "dddd");
  const std::string e4 = MakeJobDir("epoch-4", "eeee");
  // Not weir's: a user's file in a former epoch directory, a directory with another name.
  std::ofstream(shard() + "/epoch-2/notes.txt") << "mine";
  fs::create_directories(shard() + "/backup/ffff");
  fs::create_directories(shard() + "/epoch-1/not-a-job");

  auto deleted = DeleteFormerEpochs(fs_, shard(), 3);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 3);
  EXPECT_FALSE(fs::exists(e1));
  EXPECT_FALSE(fs::exists(e2a));
  EXPECT_FALSE(fs::exists(e2b));
  EXPECT_TRUE(fs::exists(shard() + "/epoch-1/not-a-job"));  // not recognized: left alone
  EXPECT_TRUE(fs::exists(shard() + "/epoch-2/notes.txt"));  // the epoch directory stays with it
  EXPECT_TRUE(fs::exists(e3 + "/shared/state.sst"));        // this epoch
  EXPECT_TRUE(fs::exists(e4 + "/shared/state.sst"));        // a later one
  EXPECT_TRUE(fs::exists(shard() + "/backup/ffff"));

  // An epoch directory left empty goes with its job directories.
  MakeJobDir("epoch-2", "gggg");
  fs::remove(shard() + "/epoch-2/notes.txt");
  ASSERT_TRUE(DeleteFormerEpochs(fs_, shard(), 3).ok());
  EXPECT_FALSE(fs::exists(shard() + "/epoch-2"));
}

TEST_F(FormerEpochsTest, ALinkInPlaceOfAnEpochDirectoryIsNotFollowed) {
  const std::string elsewhere = MakeJobDir("../../outside", "hhhh");
  fs::create_directories(shard());
  fs::create_directory_symlink(tmp_.Sub("outside"), shard() + "/epoch-1");
  auto deleted = DeleteFormerEpochs(fs_, shard(), 2);
  if (deleted.ok()) {
    EXPECT_EQ(*deleted, 0);  // skipped or refused, never followed
  }
  EXPECT_TRUE(fs::exists(elsewhere + "/shared/state.sst"));
}

TEST_F(FormerEpochsTest, AShardDirectoryThatIsGoneIsAnError) {
  auto deleted = DeleteFormerEpochs(fs_, tmp_.Sub("nowhere"), 2);
  EXPECT_FALSE(deleted.ok());
}

}  // namespace
}  // namespace weir::cluster
