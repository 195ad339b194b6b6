#include "testing/storage_under_test.h"

#include <random>

#include "io/file_systems.h"
#include "testing/rgw_server.h"

namespace weir::testing {

Result<std::unique_ptr<StorageUnderTest>> StorageUnderTest::Create(StorageKind kind,
                                                                   const std::string& name) {
  std::unique_ptr<StorageUnderTest> s(new StorageUnderTest());
  if (kind == StorageKind::kLocal) {
    s->tmp_ = std::make_unique<TempDir>();
    s->fs_ = NewPosixFileSystem();
    s->root_ = s->tmp_->Sub("storage");
    WEIR_RETURN_IF_ERROR(s->fs_->CreateDirs(s->root_));
    return s;
  }
  std::string error;
  RgwServer* rgw = SharedRgw(&error);
  if (rgw == nullptr) return Status::IOError("no Ceph RGW for the S3 tests: " + error);
  Configuration config;
  WEIR_RETURN_IF_ERROR(rgw->Configure(config));
  std::string clean;
  for (char c : name) clean.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
  s->root_ = "s3://" + rgw->endpoint().bucket + "/tests/" + clean + "-" +
             std::to_string(std::random_device{}() % 1000000);
  WEIR_ASSIGN_OR_RETURN(s->fs_, FileSystemForPath(s->root_, config));
  WEIR_RETURN_IF_ERROR(s->fs_->DeleteRecursively(s->root_));
  return s;
}

StorageUnderTest::~StorageUnderTest() {
  if (fs_ && !tmp_) (void)fs_->DeleteRecursively(root_);
}

}  // namespace weir::testing
