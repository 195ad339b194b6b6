// The file system for a path comes from the table of schemes: local for plain paths and file://,
// S3 for s3:// (and Flink's s3a://, s3p://), nothing for other schemes.
#include "io/file_systems.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/s3/s3_options.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(FileSystemsTest, LocalAndS3AreRegistered) {
  std::vector<std::string> schemes;
  for (const auto& s : RegisteredFileSystems()) schemes.push_back(s.scheme);
  EXPECT_EQ(schemes, (std::vector<std::string>{"file", "s3"}));
}

TEST(FileSystemsTest, PlainPathsAndFileUrisAreLocal) {
  testing::TempDir tmp;
  Configuration config;
  for (const std::string& path : {tmp.Sub("a"), "file://" + tmp.Sub("b")}) {
    auto fs = FileSystemForPath(path, config);
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    ASSERT_TRUE((*fs)->CreateDirs(tmp.Sub("made-by-" + path.substr(path.size() - 1))).ok());
  }
  EXPECT_TRUE(std::filesystem::is_directory(tmp.Sub("made-by-a")));
  EXPECT_TRUE(std::filesystem::is_directory(tmp.Sub("made-by-b")));
}

TEST(FileSystemsTest, S3PathsNeedABucketAndOtherSchemesAreRefused) {
  Configuration config;
  ASSERT_TRUE(config.Set(config::kS3AccessKey, "key").ok());
  ASSERT_TRUE(config.Set(config::kS3SecretKey, "secret").ok());
  for (const char* path : {"s3://bucket/jobs", "s3a://bucket/jobs", "s3p://bucket/jobs"}) {
    EXPECT_TRUE(FileSystemForPath(path, config).ok()) << path;
  }
  EXPECT_FALSE(FileSystemForPath("s3://", config).ok());
  auto gs = FileSystemForPath("gs://bucket/jobs", config);
  ASSERT_FALSE(gs.ok());
  EXPECT_EQ(gs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(gs.status().message().find("gs"), std::string::npos) << gs.status().message();
}

}  // namespace
}  // namespace weir
