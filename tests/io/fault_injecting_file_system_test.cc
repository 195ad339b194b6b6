#include "testing/fault_injecting_file_system.h"

#include <gtest/gtest.h>

#include "io/journaling_file_system.h"
#include "testing/temp_dir.h"

namespace weir::testing {
namespace {

Status Write(FileSystem& fs, const std::string& path, std::string_view data, bool sync) {
  WEIR_ASSIGN_OR_RETURN(auto f, fs.NewWritableFile(path));
  WEIR_RETURN_IF_ERROR(f->Append(data));
  if (sync) WEIR_RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

TEST(FaultInjectingFileSystemTest, FailsTheNthMatchingOperationTransientlyOrForGood) {
  TempDir tmp;
  FaultInjectingFileSystem fs(NewPosixFileSystem());
  fs.AddRule({FsOp::kCreate, "shared/", 2, -1, true, 0});
  EXPECT_TRUE(Write(fs, tmp.Sub("a"), "x", false).ok());  // path does not match
  ASSERT_TRUE(fs.CreateDirs(tmp.Sub("shared")).ok());
  EXPECT_TRUE(Write(fs, tmp.Sub("shared/1"), "x", false).ok());
  Status second = Write(fs, tmp.Sub("shared/2"), "x", false);
  EXPECT_FALSE(second.ok());
  EXPECT_TRUE(second.retryable());
  EXPECT_NE(second.message().find("shared/2"), std::string::npos);
  EXPECT_TRUE(Write(fs, tmp.Sub("shared/3"), "x", false).ok());
  fs.ClearRules();
  fs.AddRule({FsOp::kRename, "", 0, 2, false, 0});  // every rename, twice, permanent
  Status r = fs.Rename(tmp.Sub("a"), tmp.Sub("b"));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.retryable());
  EXPECT_FALSE(fs.Rename(tmp.Sub("a"), tmp.Sub("b")).ok());
  EXPECT_TRUE(fs.Rename(tmp.Sub("a"), tmp.Sub("b")).ok());
  EXPECT_EQ(fs.failures(), 3);
}

TEST(FaultInjectingFileSystemTest, LatencyDelaysWithoutFailing) {
  TempDir tmp;
  FaultInjectingFileSystem fs(NewPosixFileSystem());
  fs.AddRule({FsOp::kSync, "", 0, -1, true, 30});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Write(fs, tmp.Sub("f"), "data", true).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_EQ(fs.failures(), 0);
}

TEST(FaultInjectingFileSystemTest, MachineCrashDropsWhatWasNotMadeDurable) {
  TempDir tmp;
  auto posix = NewPosixFileSystem();
  FaultInjectingFileSystem fs(posix);
  ASSERT_TRUE(fs.CreateDirs(tmp.Sub("d")).ok());
  // Durable: data synced and the directory entry synced.
  ASSERT_TRUE(Write(fs, tmp.Sub("d/durable"), "all of it", true).ok());
  ASSERT_TRUE(fs.SyncDir(tmp.Sub("d")).ok());
  // Partly synced data in a durable entry: the tail goes.
  {
    auto f = fs.NewWritableFile(tmp.Sub("d/partly"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("synced;").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE(fs.SyncDir(tmp.Sub("d")).ok());
    ASSERT_TRUE((*f)->Append("lost").ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  // Synced data but no SyncDir: the file goes.
  ASSERT_TRUE(Write(fs, tmp.Sub("d/unlisted"), "x", true).ok());
  // A rename whose directory was not synced comes undone.
  ASSERT_TRUE(fs.Rename(tmp.Sub("d/durable"), tmp.Sub("d/renamed")).ok());

  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  EXPECT_EQ(*posix->ReadFileToString(tmp.Sub("d/durable")), "all of it");
  EXPECT_FALSE(*posix->Exists(tmp.Sub("d/renamed")));
  EXPECT_EQ(*posix->ReadFileToString(tmp.Sub("d/partly")), "synced;");
  EXPECT_FALSE(*posix->Exists(tmp.Sub("d/unlisted")));
}

// What weir's own atomic publish leaves after a crash: all of the file or none of it.
TEST(FaultInjectingFileSystemTest, AtomicPublishSurvivesACrash) {
  TempDir tmp;
  auto posix = NewPosixFileSystem();
  FaultInjectingFileSystem fs(posix);
  ASSERT_TRUE(fs.PublishAtomically(tmp.Sub("_metadata"), "complete").ok());
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  EXPECT_EQ(*posix->ReadFileToString(tmp.Sub("_metadata")), "complete");
  // A publish that failed before its rename leaves no file at all, even after a crash.
  fs.AddRule({FsOp::kRename, "_metadata2", 0, -1, false, 0});
  EXPECT_FALSE(fs.PublishAtomically(tmp.Sub("_metadata2"), "half").ok());
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  auto entries = posix->ListDir(tmp.path());
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "_metadata");
}

}  // namespace
}  // namespace weir::testing

namespace weir {
namespace {

// The journal of one process, replayed after it is gone, drops what a power loss would have.
TEST(JournalingFileSystemTest, ReplayedJournalDropsWhatWasNotDurable) {
  testing::TempDir tmp;
  auto posix = NewPosixFileSystem();
  ASSERT_TRUE(posix->CreateDirs(tmp.Sub("d")).ok());
  {
    auto journaled = JournalingFileSystem::Open(posix, tmp.Sub("journal"));
    ASSERT_TRUE(journaled.ok());
    FileSystem& fs = **journaled;
    ASSERT_TRUE(fs.PublishAtomically(tmp.Sub("d/_metadata"), "durable").ok());
    auto f = fs.NewWritableFile(tmp.Sub("d/part"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("synced;").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE(fs.SyncDir(tmp.Sub("d")).ok());
    ASSERT_TRUE((*f)->Append("not synced").ok());
    ASSERT_TRUE((*f)->Close().ok());
    auto g = fs.NewWritableFile(tmp.Sub("d/unlisted"));
    ASSERT_TRUE(g.ok());
    ASSERT_TRUE((*g)->Append("x").ok());
    ASSERT_TRUE((*g)->Sync().ok());
    ASSERT_TRUE(fs.Rename(tmp.Sub("d/part"), tmp.Sub("d/committed")).ok());
  }  // the process is gone; only the files and the journal remain
  ASSERT_TRUE(SimulatePowerLoss(tmp.Sub("journal"), *posix).ok());
  EXPECT_EQ(*posix->ReadFileToString(tmp.Sub("d/_metadata")), "durable");
  EXPECT_EQ(*posix->ReadFileToString(tmp.Sub("d/part")), "synced;");
  EXPECT_FALSE(*posix->Exists(tmp.Sub("d/committed")));
  EXPECT_FALSE(*posix->Exists(tmp.Sub("d/unlisted")));
  EXPECT_TRUE(SimulatePowerLoss(tmp.Sub("no-journal"), *posix).IsNotFound());
}

}  // namespace
}  // namespace weir
