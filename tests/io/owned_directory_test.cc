// The one guarded place for deletions: it deletes inside its directory, never through a link at
// any depth, never along a path or identifier that breaks the grammar.
#include "io/owned_directory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

namespace fs = std::filesystem;

class OwnedDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.Sub("job/shared/sub"));
    fs::create_directories(tmp_.Sub("outside/sub"));
    for (const char* f : {"job/shared/a.sst", "job/shared/sub/b.sst", "outside/canary",
                          "outside/sub/canary", "outside/a.sst"}) {
      std::ofstream(tmp_.Sub(f)) << f;
    }
  }
  OwnedDirectory Job() const { return OwnedDirectory(NewPosixFileSystem(), tmp_.Sub("job")); }
  bool Outside(const char* name) const {
    return fs::exists(tmp_.Sub(std::string("outside/") + name));
  }

  testing::TempDir tmp_;
};

TEST_F(OwnedDirectoryTest, DeletesInsideItself) {
  EXPECT_TRUE(Job().DeleteFile("shared/a.sst").ok());
  EXPECT_FALSE(fs::exists(tmp_.Sub("job/shared/a.sst")));
  EXPECT_TRUE(Job().DeleteFile("shared/a.sst").IsNotFound());
  EXPECT_TRUE(Job().DeleteRecursively("shared/sub").ok());
  EXPECT_FALSE(fs::exists(tmp_.Sub("job/shared/sub")));
  EXPECT_TRUE(Job().DeleteRecursively("shared/never-there").ok());
}

TEST_F(OwnedDirectoryTest, RefusesPathsThatLeaveItOrBreakTheGrammar) {
  for (const char* bad : {"../outside/canary", "shared/../../outside/canary", "/etc/passwd", "",
                          "shared//a.sst", "./shared/a.sst", "shared/a.sst\n"}) {
    EXPECT_FALSE(Job().DeleteFile(bad).ok()) << bad;
    EXPECT_FALSE(Job().DeleteRecursively(bad).ok()) << bad;
  }
  EXPECT_TRUE(Outside("canary"));
  EXPECT_TRUE(fs::exists(tmp_.Sub("job/shared/a.sst")));
}

TEST_F(OwnedDirectoryTest, NeverDeletesThroughALinkAtAnyDepth) {
  fs::create_directory_symlink(tmp_.Sub("outside"), tmp_.Sub("job/shared/link"));
  fs::create_directory_symlink(tmp_.Sub("outside"), tmp_.Sub("job/shared/sub/deep"));
  fs::create_directory_symlink(tmp_.Sub("outside"), tmp_.Sub("job/top"));
  EXPECT_EQ(Job().DeleteFile("shared/link/canary").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Job().DeleteFile("shared/sub/deep/sub/canary").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Job().DeleteRecursively("top/sub").code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(Job().DeleteIfEmpty("top/sub").ok());
  // A link itself, as the last component, is removed as a link: its target stays.
  EXPECT_TRUE(Job().DeleteRecursively("top").ok());
  EXPECT_FALSE(fs::is_symlink(tmp_.Sub("job/top")));
  EXPECT_TRUE(Job().DeleteAll().ok());
  EXPECT_FALSE(fs::exists(tmp_.Sub("job")));
  EXPECT_TRUE(Outside("canary"));
  EXPECT_TRUE(Outside("sub/canary"));
}

TEST_F(OwnedDirectoryTest, ADirectoryThatIsALinkIsNotOwned) {
  fs::create_directory_symlink(tmp_.Sub("outside"), tmp_.Sub("linked-job"));
  const OwnedDirectory linked(NewPosixFileSystem(), tmp_.Sub("linked-job"));
  EXPECT_EQ(linked.DeleteFile("canary").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(linked.DeleteAll().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Outside("canary"));
}

TEST_F(OwnedDirectoryTest, WorkingDirectoriesAreFreshAndOwnerOnly) {
  auto a = OwnedDirectory::CreateWorkingDirectory(tmp_.Sub("work"), "weir-job");
  auto b = OwnedDirectory::CreateWorkingDirectory(tmp_.Sub("work"), "weir-job");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->root(), b->root());
  struct stat st {};
  ASSERT_EQ(::stat(a->root().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_FALSE(OwnedDirectory::CreateWorkingDirectory(tmp_.Sub("work"), "../x").ok());
  EXPECT_TRUE(a->DeleteAll().ok());
  EXPECT_FALSE(fs::exists(a->root()));
}

TEST(IdentifierTest, StrictGrammar) {
  for (const char* ok : {"3f2a", "aggregate_0", "op-1.v2", "MANIFEST-000005", "000123.sst"}) {
    EXPECT_TRUE(ValidateIdentifier("id", ok).ok()) << ok;
  }
  for (const char* bad : {"", ".", "..", ".hidden", "x/../../y", "a/b", "a\\b", "a b", "a\nb",
                          "a\x01", "caf\xc3\xa9"}) {
    const Status s = ValidateIdentifier("job id", bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("job id"), std::string::npos);
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << "escaped in the message";
  }
  EXPECT_FALSE(ValidateIdentifier("id", std::string(129, 'a')).ok());
}

TEST(EscapeForLogTest, ControlCharactersCannotForgeLines) {
  EXPECT_EQ(EscapeForLog("a\nINFO forged\r\x1b[2J"), "a\\x0aINFO forged\\x0d\\x1b[2J");
  EXPECT_EQ(EscapeForLog("plain text / é"), "plain text / é");
}

TEST(NormalizeStoragePathTest, SchemesWeirKnowsAndNoOther) {
  EXPECT_EQ(*NormalizeStoragePath("/data/ckpt"), "/data/ckpt");
  EXPECT_EQ(*NormalizeStoragePath("relative/dir"), "relative/dir");
  EXPECT_EQ(*NormalizeStoragePath("file:///data/ckpt"), "/data/ckpt");
  EXPECT_EQ(*NormalizeStoragePath("FILE:///data"), "/data");
  EXPECT_EQ(*NormalizeStoragePath("s3://bucket/ckpt"), "s3://bucket/ckpt");
  EXPECT_EQ(*NormalizeStoragePath("s3a://bucket/ckpt"), "s3://bucket/ckpt");
  EXPECT_EQ(*NormalizeStoragePath("s3p://bucket/ckpt"), "s3://bucket/ckpt");
  EXPECT_EQ(*NormalizeStoragePath("./odd://name"), "./odd://name");
  for (const char* bad : {"anything://x", "hdfs://nn/ckpt", "gs://b/k", "file://relative"}) {
    const auto r = NormalizeStoragePath(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace weir
