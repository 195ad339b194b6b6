// Checkpoint storage for tests that must hold on every kind of storage with the same assertions:
// a fresh temp dir on the local file system, or a fresh prefix in the bucket of the test
// program's Ceph RGW (testing/rgw_server.h). Removed when the object goes away.
#pragma once

#include <memory>
#include <string>

#include "io/file_system.h"
#include "testing/temp_dir.h"

namespace weir::testing {

enum class StorageKind { kLocal, kS3 };

inline const char* StorageKindName(StorageKind k) {
  return k == StorageKind::kLocal ? "Local" : "S3";
}

class StorageUnderTest {
 public:
  // `name` makes the S3 prefix unique (the test's name); errors if RGW cannot start.
  static Result<std::unique_ptr<StorageUnderTest>> Create(StorageKind kind,
                                                          const std::string& name);
  ~StorageUnderTest();

  FileSystem& fs() const { return *fs_; }
  const std::shared_ptr<FileSystem>& shared_fs() const { return fs_; }
  // An empty "directory" on that storage.
  const std::string& root() const { return root_; }
  std::string Sub(const std::string& name) const { return root_ + "/" + name; }

 private:
  StorageUnderTest() = default;
  std::shared_ptr<FileSystem> fs_;
  std::string root_;
  std::unique_ptr<TempDir> tmp_;
};

}  // namespace weir::testing
