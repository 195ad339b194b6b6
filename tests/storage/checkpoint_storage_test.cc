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

}  // namespace
}  // namespace weir
