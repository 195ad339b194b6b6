#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "io/file_system.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(PosixFileSystemTest, WriteReadStatListDelete) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  ASSERT_TRUE(fs->CreateDirs(tmp.Sub("a/b")).ok());
  {
    auto f = fs->NewWritableFile(tmp.Sub("a/b/file"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("hello ").ok());
    ASSERT_TRUE((*f)->Append("world").ok());
    EXPECT_EQ((*f)->Size(), 11u);
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  auto data = fs->ReadFileToString(tmp.Sub("a/b/file"));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "hello world");
  auto st = fs->Stat(tmp.Sub("a/b/file"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 11u);
  EXPECT_FALSE(st->is_directory);

  auto list = fs->ListDir(tmp.Sub("a"));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "b");
  EXPECT_TRUE((*list)[0].is_directory);

  ASSERT_TRUE(fs->Rename(tmp.Sub("a/b/file"), tmp.Sub("a/renamed")).ok());
  EXPECT_FALSE(*fs->Exists(tmp.Sub("a/b/file")));
  ASSERT_TRUE(fs->Link(tmp.Sub("a/renamed"), tmp.Sub("a/linked")).ok());
  EXPECT_EQ(*fs->ReadFileToString(tmp.Sub("a/linked")), "hello world");
  ASSERT_TRUE(fs->DeleteFile(tmp.Sub("a/renamed")).ok());
  ASSERT_TRUE(fs->SyncDir(tmp.Sub("a")).ok());
  ASSERT_TRUE(fs->DeleteRecursively(tmp.Sub("a")).ok());
  EXPECT_FALSE(*fs->Exists(tmp.Sub("a")));
}

TEST(PosixFileSystemTest, MissingFilesAreNotFound) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  EXPECT_TRUE(fs->Stat(tmp.Sub("nope")).status().IsNotFound());
  EXPECT_TRUE(fs->NewReadableFile(tmp.Sub("nope")).status().IsNotFound());
  EXPECT_TRUE(fs->DeleteFile(tmp.Sub("nope")).IsNotFound());
  const auto s = fs->NewReadableFile(tmp.Sub("nope")).status();
  EXPECT_NE(s.message().find(tmp.Sub("nope")), std::string::npos) << s.ToString();
}

TEST(PosixFileSystemTest, PublishAtomicallyReplacesAndLeavesNoTempFile) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  ASSERT_TRUE(fs->PublishAtomically(tmp.Sub("_metadata"), "first").ok());
  ASSERT_TRUE(fs->PublishAtomically(tmp.Sub("_metadata"), "second").ok());
  EXPECT_EQ(*fs->ReadFileToString(tmp.Sub("_metadata")), "second");
  auto list = fs->ListDir(tmp.path());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "_metadata");
}

TEST(PosixFileSystemTest, PublishIntoMissingDirectoryFailsCleanly) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  EXPECT_FALSE(fs->PublishAtomically(tmp.Sub("missing/_metadata"), "x").ok());
}

// WriteDurably writes small files through the page cache and large ones around it (O_DIRECT,
// padded to whole blocks, then cut): either way the file holds exactly the bytes, replaces a
// longer file, keeps the owner-only mode, and fails cleanly where the directory is missing.
TEST(PosixFileSystemTest, WriteDurablyHoldsExactlyTheBytesWhateverTheSize) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  ASSERT_TRUE(fs->CreateDirs(tmp.Sub("d")).ok());
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{65536}, size_t{65536 + 17},
                      size_t{(1 << 20) + 3}}) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    const std::string path = tmp.Sub("d/f" + std::to_string(size));
    ASSERT_TRUE(fs->WriteDurably(path, std::string(3 << 20, 'x')).ok());
    ASSERT_TRUE(fs->WriteDurably(path, data).ok()) << size;
    auto read = fs->ReadFileToString(path);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->size(), size);
    EXPECT_TRUE(*read == data) << size;
    EXPECT_EQ(fs->Stat(path)->size, size);
  }
  // Data at a page-aligned address is written where it lies (but for its last partial block),
  // other data from an aligned copy: the same bytes either way.
  constexpr size_t kPage = 4096;
  std::unique_ptr<char, decltype(&std::free)> aligned(
      static_cast<char*>(std::aligned_alloc(kPage, 40 * kPage)), &std::free);
  ASSERT_NE(aligned, nullptr);
  for (size_t i = 0; i < 40 * kPage; ++i) aligned.get()[i] = static_cast<char>('A' + i % 23);
  for (size_t at : {size_t{0}, size_t{1}}) {
    for (size_t size : {16 * kPage, 16 * kPage + 1, 39 * kPage - 1}) {
      const std::string_view data(aligned.get() + at, size);
      const std::string path = tmp.Sub("d/a" + std::to_string(at) + "-" + std::to_string(size));
      ASSERT_TRUE(fs->WriteDurably(path, std::string(3 << 20, 'x')).ok());
      ASSERT_TRUE(fs->WriteDurably(path, data).ok()) << at << " " << size;
      auto read = fs->ReadFileToString(path);
      ASSERT_TRUE(read.ok());
      EXPECT_TRUE(*read == data) << at << " " << size;
    }
  }
  auto strict = NewPosixFileSystem({.owner_only = true});
  ASSERT_TRUE(strict->WriteDurably(tmp.Sub("d/owner"), std::string(1 << 20, 'o')).ok());
  struct stat st {};
  ASSERT_EQ(::stat(tmp.Sub("d/owner").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs->WriteDurably(tmp.Sub("missing/f"), std::string(1 << 20, 'm')).ok());
}

TEST(PosixFileSystemTest, OwnerOnlyModes) {
  testing::TempDir tmp;
  const mode_t old_umask = ::umask(022);
  auto strict = NewPosixFileSystem({.owner_only = true});
  ASSERT_TRUE(strict->CreateDirs(tmp.Sub("a/b")).ok());
  ASSERT_TRUE(strict->PublishAtomically(tmp.Sub("a/b/_metadata"), "x").ok());
  auto open = NewPosixFileSystem();
  ASSERT_TRUE(open->CreateDirs(tmp.Sub("c")).ok());
  ASSERT_TRUE(open->PublishAtomically(tmp.Sub("c/f"), "x").ok());
  ::umask(old_umask);
  const auto mode = [](const std::string& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
  };
  EXPECT_EQ(mode(tmp.Sub("a")), 0700u);
  EXPECT_EQ(mode(tmp.Sub("a/b")), 0700u);
  EXPECT_EQ(mode(tmp.Sub("a/b/_metadata")), 0600u);
  EXPECT_EQ(mode(tmp.Sub("c")), 0755u);
  EXPECT_EQ(mode(tmp.Sub("c/f")), 0644u);
  // A path that exists as a file is not a directory.
  EXPECT_FALSE(strict->CreateDirs(tmp.Sub("c/f")).ok());
}

TEST(PathTest, JoinParentBase) {
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a/", "b"), "/a/b");
  EXPECT_EQ(ParentPath("/a/b/c"), "/a/b");
  EXPECT_EQ(ParentPath("/a/b/"), "/a");
  EXPECT_EQ(ParentPath("c"), "");
  EXPECT_EQ(BaseName("/a/b/chk-3/"), "chk-3");
}

}  // namespace
}  // namespace weir
