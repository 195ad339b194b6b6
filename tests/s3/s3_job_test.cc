// A running job with its checkpoints on S3 (the rgw fixture's Ceph RGW) while the storage
// throttles (503 SlowDown) or fails (500) every write for a while, injected by a fault hook in
// front of the gateway: the checkpoints of that window are aborted and counted against the
// tolerance, the job itself never fails or restarts, and the first checkpoint after the faults
// stop completes. The output stays exactly-once.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "aggregate_job.h"
#include "checkpoint/checkpoint_metadata.h"
#include "io/s3/s3_file_system.h"
#include "runtime/job_runtime.h"
#include "snapshot/file_transfer.h"
#include "testing/output_oracle.h"
#include "testing/rgw_server.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace weir {
namespace {

class S3JobTest : public ::testing::TestWithParam<long> {};

TEST_P(S3JobTest, FaultsAbortCheckpointsButNotTheJob) {
  const long injected_status = GetParam();
  std::string error;
  testing::RgwServer* rgw = testing::SharedRgw(&error);
  ASSERT_NE(rgw, nullptr) << error;
  testing::TempDir tmp;
  Configuration config;
  ASSERT_TRUE(rgw->Configure(config).ok());
  auto options = s3::S3OptionsFromConfig(config);
  ASSERT_TRUE(options.ok());
  options->retry = {.max_attempts = 3, .initial_backoff_ms = 5, .max_backoff_ms = 20};
  auto client = std::make_shared<s3::S3Client>(*options);
  std::atomic<bool> faulty{false};
  std::atomic<int> refused{0};
  client->SetFaultHook([&](const s3::S3Request& r) -> std::optional<s3::S3Response> {
    if (!faulty || (r.method != "PUT" && r.method != "POST")) return std::nullopt;
    ++refused;
    if (injected_status == 503) {
      return s3::S3Response{503, "<Error><Code>SlowDown</Code></Error>", {}};
    }
    return s3::S3Response{500, "<Error><Code>InternalError</Code></Error>", {}};
  });
  const std::string dir = "s3://" + rgw->endpoint().bucket + "/job-test-" +
                          std::to_string(injected_status) + "-" +
                          std::to_string(std::random_device{}() % 1000000);
  ASSERT_TRUE(config.Set(config::kCheckpointsDir, dir).ok());
  ASSERT_TRUE(config.Set(config::kInterval, "100ms").ok());
  ASSERT_TRUE(config.Set(config::kIncremental, "true").ok());
  ASSERT_TRUE(config.Set(config::kParallelism, "2").ok());
  ASSERT_TRUE(config.Set(config::kTolerableFailures, "1000").ok());
  ASSERT_TRUE(config.Set(config::kLocalDir, tmp.Sub("local")).ok());
  const uint64_t events = 60000, keys = 500;
  auto job = JobRuntime::Create(
      testing::AggregateJob(events, keys, 15000, tmp.Sub("out"), nullptr, nullptr), config,
      s3::NewS3FileSystem(client));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  JobResult result;
  std::thread runner([&] { result = (*job)->Run(); });
  const auto completed = [&] { return (*job)->completed_checkpoints().size(); };
  EXPECT_TRUE(testing::WaitFor([&] { return completed() >= 2; }));
  faulty = true;
  const size_t before = completed();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const size_t during = completed() - before;
  faulty = false;
  EXPECT_TRUE(testing::WaitFor([&] { return completed() > before + during; }))
      << "no checkpoint completed after the faults stopped";
  runner.join();
  EXPECT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  EXPECT_EQ(result.restarts, 0);
  EXPECT_GT(refused.load(), 0);
  // A checkpoint that was past its uploads when the faults began may still complete; not more.
  EXPECT_LE(during, 1u);
  Status exact =
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();
  // Parts of aborted multipart uploads do not linger (the files here are one-PUT size anyway).
  auto uploads =
      client->ListMultipartUploads(rgw->endpoint().bucket, dir.substr(dir.find('/', 5) + 1) + "/");
  ASSERT_TRUE(uploads.ok());
  EXPECT_TRUE(uploads->empty());
  ASSERT_TRUE(s3::NewS3FileSystem(client)->DeleteRecursively(dir).ok());
}

INSTANTIATE_TEST_SUITE_P(Faults, S3JobTest, ::testing::Values(503L, 500L), [](const auto& info) {
  return info.param == 503 ? std::string("Throttling") : std::string("ServerErrors");
});

// Every file below `from` copied below `to` (an object store has no directories to make).
Status CopyTree(FileSystem& fs, const std::string& from, const std::string& to) {
  WEIR_ASSIGN_OR_RETURN(auto entries, fs.ListDir(from));
  for (const auto& e : entries) {
    if (e.is_directory) {
      WEIR_RETURN_IF_ERROR(CopyTree(fs, JoinPath(from, e.name), JoinPath(to, e.name)));
    } else {
      WEIR_RETURN_IF_ERROR(CopyFile(fs, JoinPath(from, e.name), fs, JoinPath(to, e.name)).status());
    }
  }
  return Status::OK();
}

class S3SavepointTest : public ::testing::TestWithParam<SavepointFormat> {};

// A job stopped with a savepoint on S3; the savepoint copied to another prefix and the original
// and the job's checkpoints deleted; the job resumed from the copy ends exactly once.
TEST_P(S3SavepointTest, StopCopyAndResumeOnS3) {
  const SavepointFormat format = GetParam();
  std::string error;
  testing::RgwServer* rgw = testing::SharedRgw(&error);
  ASSERT_NE(rgw, nullptr) << error;
  testing::TempDir tmp;
  Configuration config;
  ASSERT_TRUE(rgw->Configure(config).ok());
  auto options = s3::S3OptionsFromConfig(config);
  ASSERT_TRUE(options.ok());
  auto fs = s3::NewS3FileSystem(std::make_shared<s3::S3Client>(*options));
  const std::string root = "s3://" + rgw->endpoint().bucket + "/savepoint-test-" +
                           std::string(SavepointFormatName(format)) + "-" +
                           std::to_string(std::random_device{}() % 1000000);
  ASSERT_TRUE(config.Set(config::kCheckpointsDir, root + "/checkpoints").ok());
  ASSERT_TRUE(config.Set(config::kSavepointsDir, root + "/savepoints").ok());
  ASSERT_TRUE(config.Set(config::kInterval, "200ms").ok());
  ASSERT_TRUE(config.Set(config::kIncremental, "true").ok());
  ASSERT_TRUE(config.Set(config::kParallelism, "2").ok());
  ASSERT_TRUE(config.Set(config::kLocalDir, tmp.Sub("local")).ok());
  const uint64_t events = 40000, keys = 300;
  std::string location;
  {
    auto job = JobRuntime::Create(
        testing::AggregateJob(events, keys, 10000, tmp.Sub("out"), nullptr, nullptr), config, fs);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    JobResult result;
    std::thread runner([&] { result = (*job)->Run(); });
    EXPECT_TRUE(testing::WaitFor([&] { return (*job)->completed_checkpoints().size() >= 1; }));
    auto request = (*job)->TriggerSavepoint({"", format, SavepointRequest::Then::kStop});
    ASSERT_TRUE(request.ok()) << request.status().ToString();
    runner.join();
    ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
    location = result.savepoint_path;
    ASSERT_EQ(location.rfind(root + "/savepoints/savepoint-", 0), 0u) << location;
  }
  auto metadata = ReadCheckpointMetadata(*fs, location + "/_metadata");
  ASSERT_TRUE(metadata.ok()) << metadata.status().ToString();
  EXPECT_EQ(metadata->kind, format == SavepointFormat::kNative
                                ? CheckpointKind::kNativeSavepoint
                                : CheckpointKind::kCanonicalSavepoint);
  const std::string copy = root + "/moved/my-savepoint";
  ASSERT_TRUE(CopyTree(*fs, location, copy).ok());
  ASSERT_TRUE(fs->DeleteRecursively(location).ok());
  ASSERT_TRUE(fs->DeleteRecursively(root + "/checkpoints").ok());
  ASSERT_TRUE(config.Set(config::kSavepointPath, copy).ok());
  ASSERT_TRUE(config.Set(config::kParallelism, "3").ok());
  auto resumed = JobRuntime::Create(
      testing::AggregateJob(events, keys, 0, tmp.Sub("out"), nullptr, nullptr), config, fs);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  const JobResult result = (*resumed)->Run();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  Status exact =
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();
  EXPECT_TRUE(ReadCheckpointMetadata(*fs, copy + "/_metadata").ok());
  ASSERT_TRUE(fs->DeleteRecursively(root).ok());
}

INSTANTIATE_TEST_SUITE_P(Formats, S3SavepointTest,
                         ::testing::Values(SavepointFormat::kCanonical, SavepointFormat::kNative),
                         [](const auto& info) {
                           return std::string(info.param == SavepointFormat::kNative ? "Native"
                                                                                     : "Canonical");
                         });

}  // namespace
}  // namespace weir
