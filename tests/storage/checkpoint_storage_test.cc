#include "storage/checkpoint_storage.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(CheckpointStorageTest, BuildsTheLayout) {
  const auto s = CheckpointStorage::ForJob(NewPosixFileSystem(), "/ckpts/", "job-1");
  EXPECT_EQ(s.job_dir(), "/ckpts/job-1");
  EXPECT_EQ(s.CheckpointDir(7), "/ckpts/job-1/chk-7");
  EXPECT_EQ(s.MetadataPath(7), "/ckpts/job-1/chk-7/_metadata");
  EXPECT_EQ(s.SharedDir(), "/ckpts/job-1/shared");
  EXPECT_EQ(s.TaskOwnedDir(), "/ckpts/job-1/taskowned");
  EXPECT_EQ(CheckpointStorage::RelativeCheckpointFile(7, "op_0.kgs"), "chk-7/op_0.kgs");
}

TEST(CheckpointStorageTest, ParsesCheckpointDirNames) {
  EXPECT_EQ(CheckpointStorage::ParseCheckpointDirName("chk-12"), 12u);
  EXPECT_EQ(CheckpointStorage::ParseCheckpointDirName("chk-0"), 0u);
  EXPECT_FALSE(CheckpointStorage::ParseCheckpointDirName("chk-"));
  EXPECT_FALSE(CheckpointStorage::ParseCheckpointDirName("chk-01"));
  EXPECT_FALSE(CheckpointStorage::ParseCheckpointDirName("chk-1x"));
  EXPECT_FALSE(CheckpointStorage::ParseCheckpointDirName("shared"));
}

TEST(CheckpointStorageTest, RejectsPathsThatLeaveTheJobDirectory) {
  const CheckpointStorage s(NewPosixFileSystem(), "/ckpts/job");
  EXPECT_EQ(*s.ResolveRelative("chk-1/a.kgs"), "/ckpts/job/chk-1/a.kgs");
  EXPECT_EQ(*s.ResolveRelative("shared/x.sst"), "/ckpts/job/shared/x.sst");
  for (const char* bad : {"", "/etc/passwd", "../other/chk-1/a", "chk-1/../../x", "chk-1//a",
                          "./chk-1/a", "chk-1/a/"}) {
    auto r = s.ResolveRelative(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().IsCorruption()) << bad;
  }
}

TEST(CheckpointStorageTest, ListsOnlyCheckpointsWithMetadata) {
  testing::TempDir tmp;
  const auto s = CheckpointStorage::ForJob(NewPosixFileSystem(), tmp.path(), "job");
  ASSERT_TRUE(s.Initialize().ok());
  ASSERT_TRUE(s.CreateCheckpointDir(3).ok());
  ASSERT_TRUE(s.PublishMetadata(3, "m3").ok());
  ASSERT_TRUE(s.CreateCheckpointDir(10).ok());
  ASSERT_TRUE(s.PublishMetadata(10, "m10").ok());
  ASSERT_TRUE(s.CreateCheckpointDir(11).ok());  // pending: never completed
  auto ids = s.ListCompletedCheckpointIds();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<uint64_t>{3, 10}));
}

TEST(CheckpointStorageTest, ResolvesPointersToCheckpoints) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  const auto s = CheckpointStorage::ForJob(fs, tmp.path(), "job");
  ASSERT_TRUE(s.Initialize().ok());
  ASSERT_TRUE(s.CreateCheckpointDir(4).ok());
  ASSERT_TRUE(s.PublishMetadata(4, "m").ok());
  ASSERT_TRUE(s.CreateCheckpointDir(5).ok());

  for (const std::string& p : {s.CheckpointDir(4), s.CheckpointDir(4) + "/", s.MetadataPath(4)}) {
    auto ptr = CheckpointStorage::ResolvePointer(*fs, p);
    ASSERT_TRUE(ptr.ok()) << p << ": " << ptr.status().ToString();
    EXPECT_EQ(ptr->checkpoint_id, 4u);
    EXPECT_EQ(ptr->job_dir, s.job_dir());
    EXPECT_EQ(ptr->metadata_path, s.MetadataPath(4));
  }
  EXPECT_TRUE(CheckpointStorage::ResolvePointer(*fs, tmp.Sub("missing")).status().IsNotFound());
  EXPECT_TRUE(CheckpointStorage::ResolvePointer(*fs, s.CheckpointDir(5)).status().IsNotFound());
  EXPECT_EQ(CheckpointStorage::ResolvePointer(*fs, s.SharedDir()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CheckpointStorageTest, FindsJobDirectories) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  for (const char* job : {"b-job", "a-job"}) {
    const auto s = CheckpointStorage::ForJob(fs, tmp.path(), job);
    ASSERT_TRUE(s.Initialize().ok());
  }
  ASSERT_TRUE(fs->CreateDirs(tmp.Sub("unrelated")).ok());
  auto jobs = CheckpointStorage::FindJobDirs(*fs, tmp.path());
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(*jobs, (std::vector<std::string>{tmp.Sub("a-job"), tmp.Sub("b-job")}));
  auto one = CheckpointStorage::FindJobDirs(*fs, tmp.Sub("a-job"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, (std::vector<std::string>{tmp.Sub("a-job")}));
  EXPECT_FALSE(CheckpointStorage::FindJobDirs(*fs, tmp.Sub("none")).ok());
}

}  // namespace
}  // namespace weir
