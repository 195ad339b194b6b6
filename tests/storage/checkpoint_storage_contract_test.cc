// The CheckpointStorage contract: the same tests on local storage (storage_test) and on S3
// against a Ceph RGW (s3_contract_test, compiled with WEIR_CONTRACT_ON_S3).
#include <gtest/gtest.h>

#include "checkpoint/checkpoint_metadata.h"
#include "checkpoint/job_directory.h"
#include "storage/checkpoint_storage.h"
#include "testing/storage_under_test.h"

namespace weir {
namespace {

using testing::StorageKind;

class CheckpointStorageContractTest : public ::testing::TestWithParam<StorageKind> {
 protected:
  void SetUp() override {
    auto s = testing::StorageUnderTest::Create(
        GetParam(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    storage_ = std::move(s).value();
    fs_ = storage_->shared_fs();
  }
  const std::string& root() const { return storage_->root(); }

  std::unique_ptr<testing::StorageUnderTest> storage_;
  std::shared_ptr<FileSystem> fs_;
};

TEST_P(CheckpointStorageContractTest, ListsOnlyCheckpointsWithMetadata) {
  const auto s = CheckpointStorage::ForJob(fs_, root(), "job");
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

TEST_P(CheckpointStorageContractTest, ResolvesPointersToCheckpoints) {
  auto fs = fs_;
  const auto s = CheckpointStorage::ForJob(fs, root(), "job");
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
  EXPECT_TRUE(
      CheckpointStorage::ResolvePointer(*fs, storage_->Sub("missing")).status().IsNotFound());
  EXPECT_TRUE(CheckpointStorage::ResolvePointer(*fs, s.CheckpointDir(5)).status().IsNotFound());
  // A directory that is not a checkpoint (with a file in it: on S3 an empty one does not exist).
  ASSERT_TRUE(fs->PublishAtomically(s.SharedDir() + "/x.sst", "x").ok());
  EXPECT_EQ(CheckpointStorage::ResolvePointer(*fs, s.SharedDir()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(CheckpointStorageContractTest, FindsJobDirectories) {
  auto fs = fs_;
  for (const char* job : {"b-job", "a-job"}) {
    const auto s = CheckpointStorage::ForJob(fs, root(), job);
    ASSERT_TRUE(s.Initialize().ok());
    // On S3 a directory exists once something is in it: a job directory, once a checkpoint is.
    ASSERT_TRUE(s.CreateCheckpointDir(1).ok());
    ASSERT_TRUE(s.PublishMetadata(1, "m").ok());
  }
  ASSERT_TRUE(fs->CreateDirs(storage_->Sub("unrelated")).ok());
  ASSERT_TRUE(fs->PublishAtomically(storage_->Sub("unrelated/file"), "x").ok());
  // Shaped like a job directory, but weir never made it: no marker, no checkpoint that reads.
  ASSERT_TRUE(fs->CreateDirs(storage_->Sub("lookalike/shared")).ok());
  ASSERT_TRUE(fs->CreateDirs(storage_->Sub("lookalike/chk-1")).ok());
  ASSERT_TRUE(fs->PublishAtomically(storage_->Sub("lookalike/shared/data"), "x").ok());
  ASSERT_TRUE(fs->PublishAtomically(storage_->Sub("lookalike/chk-1/_metadata"), "x").ok());
  auto jobs = FindJobDirectories(*fs, root());
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->jobs, (std::vector<std::string>{storage_->Sub("a-job"), storage_->Sub("b-job")}));
  ASSERT_EQ(jobs->ignored.size(), 2u);
  EXPECT_NE(jobs->ignored[0].find("lookalike: not a weir job or savepoint directory"),
            std::string::npos);
  auto one = FindJobDirectories(*fs, storage_->Sub("a-job"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->jobs, (std::vector<std::string>{storage_->Sub("a-job")}));
  auto lookalike = FindJobDirectories(*fs, storage_->Sub("lookalike"));
  ASSERT_TRUE(lookalike.ok());
  EXPECT_TRUE(lookalike->jobs.empty());
  EXPECT_FALSE(FindJobDirectories(*fs, storage_->Sub("none")).ok());
}

// A savepoint is a directory of any name holding its own _metadata: resolved from the directory
// or the file, found beside job directories, its files at paths relative to itself.
TEST_P(CheckpointStorageContractTest, ResolvesAndFindsSavepoints) {
  auto fs = fs_;
  const auto job = CheckpointStorage::ForJob(fs, root(), "job");
  ASSERT_TRUE(job.Initialize().ok());
  ASSERT_TRUE(job.CreateCheckpointDir(1).ok());
  CheckpointMetadata checkpoint;
  checkpoint.checkpoint_id = 1;
  checkpoint.job_id = "job";
  ASSERT_TRUE(job.PublishMetadata(1, EncodeCheckpointMetadata(checkpoint)).ok());
  const auto sp = CheckpointStorage::ForSavepoint(fs, storage_->Sub("my savepoint"));
  EXPECT_TRUE(sp.is_savepoint());
  EXPECT_EQ(sp.MetadataPath(7), storage_->Sub("my savepoint/_metadata"));
  EXPECT_EQ(sp.RelativePrivateFile(7, "op_0.kgs"), "op_0.kgs");
  EXPECT_EQ(job.RelativePrivateFile(7, "op_0.kgs"), "chk-7/op_0.kgs");
  EXPECT_FALSE(sp.Initialize().ok());
  ASSERT_TRUE(sp.CreateCheckpointDir(7).ok());
  CheckpointMetadata savepoint;
  savepoint.checkpoint_id = 7;
  savepoint.kind = CheckpointKind::kNativeSavepoint;
  savepoint.job_id = "job";
  ASSERT_TRUE(sp.PublishMetadata(7, EncodeCheckpointMetadata(savepoint)).ok());
  for (const std::string& p : {sp.job_dir(), sp.MetadataPath(7)}) {
    auto ptr = CheckpointStorage::ResolvePointer(*fs, p);
    ASSERT_TRUE(ptr.ok()) << p << ": " << ptr.status().ToString();
    EXPECT_TRUE(ptr->savepoint);
    EXPECT_EQ(ptr->job_dir, sp.job_dir());
    EXPECT_EQ(ptr->metadata_path, sp.MetadataPath(7));
    EXPECT_TRUE(CheckpointStorage::ForPointer(fs, *ptr).is_savepoint());
  }
  auto found = FindJobDirectories(*fs, root());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->jobs, (std::vector<std::string>{job.job_dir()}));
  EXPECT_EQ(found->savepoints, (std::vector<std::string>{sp.job_dir()}));
  auto alone = FindJobDirectories(*fs, sp.job_dir());
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->savepoints, (std::vector<std::string>{sp.job_dir()}));
  EXPECT_TRUE(alone->jobs.empty());
  // A checkpoint's _metadata copied into a directory of its own is no savepoint.
  const auto fake = CheckpointStorage::ForSavepoint(fs, storage_->Sub("fake"));
  ASSERT_TRUE(fake.CreateCheckpointDir(1).ok());
  ASSERT_TRUE(fake.PublishMetadata(1, EncodeCheckpointMetadata(checkpoint)).ok());
  auto not_one = RecognizeSavepointDirectory(*fs, fake.job_dir());
  ASSERT_TRUE(not_one.ok());
  EXPECT_FALSE(*not_one);
}

#ifdef WEIR_CONTRACT_ON_S3
INSTANTIATE_TEST_SUITE_P(S3, CheckpointStorageContractTest, ::testing::Values(StorageKind::kS3));
#else
INSTANTIATE_TEST_SUITE_P(Local, CheckpointStorageContractTest,
                         ::testing::Values(StorageKind::kLocal));
#endif

}  // namespace
}  // namespace weir
