// The runtime's exactly-once SIGKILL/resume test with `state.checkpoints.dir` on S3 (a real Ceph
// RGW, started by ctest's rgw fixture): `weir run` of keyed-aggregate with incremental or changelog
// checkpoints (the log under the checkpoint directory, or in `dstl.dfs.base-path` on S3 too) at
// parallelism 2, killed 4 times at random moments and resumed each time with `-s
// s3://…`; then the output is exactly-once, `weir checkpoints verify` on the bucket is clean, and
// `weir checkpoints gc` removes an orphan there.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "io/file_systems.h"
#include "testing/output_oracle.h"
#include "testing/rgw_server.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Incremental or changelog checkpoints (the state-change log and materializations on S3 too).
enum class Kind { kIncremental, kChangelog, kChangelogBasePath };
class S3KillResumeTest : public ::testing::TestWithParam<Kind> {};

TEST_P(S3KillResumeTest, ExactlyOnceWithCheckpointsOnS3AndVerifyAndGcThere) {
  const bool changelog = GetParam() != Kind::kIncremental;
  std::string error;
  testing::RgwServer* rgw = testing::SharedRgw(&error);
  ASSERT_NE(rgw, nullptr) << error;
  const std::vector<std::string> s3 = rgw->WeirOptions();
  testing::TempDir tmp;
  const std::string run_prefix = "s3://" + rgw->endpoint().bucket + "/e2e-kill-resume-" +
                                 std::to_string(std::random_device{}() % 1000000);
  const std::string checkpoints = run_prefix + "-checkpoints";
  // The log's own place, beside the checkpoint directory in the bucket.
  const std::string log_base =
      GetParam() == Kind::kChangelogBasePath ? run_prefix + "-dstl" : std::string();
  const uint64_t events = 120000, keys = 2000;
  std::vector<std::string> options = {
      "-D", "execution.checkpointing.interval=100ms",
      "-D", "state.checkpoints.dir=" + checkpoints,
      "-D", "state.backend.rocksdb.localdir=" + tmp.Sub("local"),
      "-D", "parallelism.default=2",
      "-D", "state.backend.incremental=true",
      "-D", "state.backend.changelog.enabled=" + std::string(changelog ? "true" : "false"),
      "-D", "state.backend.changelog.periodic-materialize.interval=400ms",
      "-D", "dstl.dfs.base-path=" + log_base};
  options.insert(options.end(), s3.begin(), s3.end());
  const std::vector<std::string> job = {
      "keyed-aggregate", "--events", std::to_string(events), "--keys", std::to_string(keys),
      "--rate",          "50000",    "--payload-bytes",      "64",     "--output",
      tmp.Sub("out")};
  const auto latest_checkpoint = [&] { return LatestCheckpoint(checkpoints, Join(s3)); };
  const auto run_args = [&](const std::string& from) {
    std::vector<std::string> args = {"run"};
    if (!from.empty()) args.insert(args.end(), {"-s", from});
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), job.begin(), job.end());
    return args;
  };
  std::mt19937 rng(5 + static_cast<int>(GetParam()));
  std::string log, latest;
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    const int kill_after = 500 + static_cast<int>(rng() % 1000);
    log += "weir run " + (latest.empty() ? "" : "-s " + latest + " ") + "... killed after " +
           std::to_string(kill_after) + " ms\n";
    const ProcessResult r = RunWeir(run_args(latest), kill_after, tmp.Sub("stderr.txt"));
    if (r.killed) {
      ++kills;
    } else {
      ASSERT_EQ(r.exit_code, 0) << log << r.stderr_text;
    }
    if (const std::string now = latest_checkpoint(); !now.empty()) latest = now;
  }
  ASSERT_EQ(latest.rfind(checkpoints, 0), 0u) << "no checkpoint on S3 after the kills; " << log;
  const ProcessResult last = RunWeir(run_args(latest), -1, tmp.Sub("stderr.txt"));
  ASSERT_EQ(last.exit_code, 0) << log << last.stderr_text;
  EXPECT_GE(kills, 2) << log;
  const Status exact =
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << log << exact.message();

  std::vector<std::string> verify = {"checkpoints", "verify"};
  verify.insert(verify.end(), s3.begin(), s3.end());
  verify.push_back(checkpoints);
  const ProcessResult clean = RunWeir(verify, -1, tmp.Sub("verify.txt"));
  EXPECT_EQ(clean.exit_code, 0) << clean.stderr_text;

  // An orphan in the job's shared/ directory (an upload nothing references): gc deletes it.
  const std::string job_dir = latest.substr(0, latest.find("/chk-"));
  Configuration config;
  ASSERT_TRUE(rgw->Configure(config).ok());
  auto fs = FileSystemForPath(checkpoints, config);
  ASSERT_TRUE(fs.ok());
  const std::string orphan = job_dir + "/shared/orphan-from-a-crash.sst";
  ASSERT_TRUE((*fs)->PublishAtomically(orphan, "bytes nothing references").ok());
  std::vector<std::string> verify_json = verify;
  verify_json.insert(verify_json.begin() + 2, "--json");
  auto before = nlohmann::json::parse(WeirOutput(Join(verify_json)), nullptr, false);
  ASSERT_TRUE(before.is_object());
  // (Runs killed before their first checkpoint leave orphans in job directories of their own.)
  bool listed = false;
  for (const auto& o : before["orphans"]) {
    listed = listed || (o["job_dir"] == job_dir && o["path"] == "shared/orphan-from-a-crash.sst");
  }
  EXPECT_TRUE(listed) << before.dump(2);
  std::vector<std::string> gc = {"checkpoints", "gc", "--grace", "0", "--delete"};
  gc.insert(gc.end(), s3.begin(), s3.end());
  gc.push_back(checkpoints);
  const ProcessResult collected = RunWeir(gc, -1, tmp.Sub("gc.txt"));
  EXPECT_EQ(collected.exit_code, 0) << collected.stderr_text;
  EXPECT_FALSE(*(*fs)->Exists(orphan));
  auto after = nlohmann::json::parse(WeirOutput(Join(verify_json)), nullptr, false);
  ASSERT_TRUE(after.is_object());
  EXPECT_TRUE(after["healthy"].get<bool>());
  EXPECT_TRUE(after["orphans"].empty()) << after.dump(2);
  if (!log_base.empty()) {
    // The log lay outside the checkpoint directory: in the job's directory under the base path.
    auto logs = (*fs)->ListDir(log_base);
    ASSERT_TRUE(logs.ok()) << logs.status().ToString();
    EXPECT_FALSE(logs->empty()) << "no log directory under " << log_base;
    ASSERT_TRUE((*fs)->DeleteRecursively(log_base).ok());
  }
  ASSERT_TRUE((*fs)->DeleteRecursively(checkpoints).ok());
}

INSTANTIATE_TEST_SUITE_P(E2E, S3KillResumeTest,
                         ::testing::Values(Kind::kIncremental, Kind::kChangelog,
                                           Kind::kChangelogBasePath),
                         [](const auto& info) {
                           switch (info.param) {
                             case Kind::kIncremental:
                               return std::string("Incremental");
                             case Kind::kChangelog:
                               return std::string("Changelog");
                             case Kind::kChangelogBasePath:
                               break;
                           }
                           return std::string("ChangelogBasePath");
                         });

}  // namespace
}  // namespace weir::e2e
