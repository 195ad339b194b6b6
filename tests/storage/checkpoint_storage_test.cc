#include "storage/checkpoint_storage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

TEST(CheckpointStorageTest, RoutesLogFilesToTheLogDirectoryTheJobDirectoryRecords) {
  testing::TempDir tmp;
  const auto fs = NewPosixFileSystem();
  const auto job = CheckpointStorage::ForJob(fs, tmp.Sub("ckpts"), "job1");
  // Without a log directory a "dstl/" path has nowhere to go; log files go to shared/.
  EXPECT_TRUE(job.ResolveRelative("dstl/changelog-a-1.dstl").status().IsCorruption());
  EXPECT_EQ(job.RelativeChangelogFile("changelog-a-1.dstl"), "shared/changelog-a-1.dstl");

  const auto with_log = job.WithChangelogDir(tmp.Sub("dstl/job1"));
  ASSERT_TRUE(with_log.Initialize().ok());
  EXPECT_EQ(with_log.RelativeChangelogFile("changelog-a-1.dstl"), "dstl/changelog-a-1.dstl");
  EXPECT_EQ(*with_log.ResolveRelative("dstl/changelog-a-1.dstl"),
            tmp.Sub("dstl/job1/changelog-a-1.dstl"));
  EXPECT_EQ(*with_log.ResolveRelative("shared/x.sst"), tmp.Sub("ckpts/job1/shared/x.sst"));
  // The job directory records it: a storage made from the path alone finds it again.
  auto found = job.WithRecordedChangelogDir();
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->changelog_dir(), tmp.Sub("dstl/job1"));
  std::ofstream(tmp.Sub("dstl/job1/changelog-a-1.dstl")) << "log";
  EXPECT_TRUE(found->DeleteStateFile("dstl/changelog-a-1.dstl").ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("dstl/job1/changelog-a-1.dstl")));
}

TEST(CheckpointStorageTest, RefusesARecordedLogDirectoryThatIsNotWeirs) {
  testing::TempDir tmp;
  const auto fs = NewPosixFileSystem();
  const auto job = CheckpointStorage::ForJob(fs, tmp.Sub("ckpts"), "job1");
  ASSERT_TRUE(job.Initialize().ok());
  std::filesystem::create_directories(tmp.Sub("home"));
  std::ofstream(tmp.Sub("home/precious")) << "keep";
  const auto record = [&](const std::string& content) {
    std::ofstream(tmp.Sub("ckpts/job1/_weir_changelog_dir"), std::ios::trunc) << content;
  };
  // A crafted record naming a directory without weir's marker: refused, nothing resolved there.
  record(tmp.Sub("home") + "\n");
  auto r = job.WithRecordedChangelogDir();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("marker"), std::string::npos) << r.status().ToString();
  for (const std::string& bad : {std::string("relative/dir\n"), tmp.Sub("a/../b") + "\n",
                                 tmp.Sub("home"), std::string("\n")}) {
    record(bad);
    EXPECT_TRUE(job.WithRecordedChangelogDir().status().IsCorruption()) << bad;
  }
  // A log directory someone else filled is never taken over.
  const auto foreign = job.WithChangelogDir(tmp.Sub("home"));
  std::filesystem::remove(tmp.Sub("ckpts/job1/_weir_changelog_dir"));
  EXPECT_EQ(foreign.Initialize().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("home/precious")));
}

}  // namespace
}  // namespace weir
