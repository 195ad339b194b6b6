// `weir run -s` with --restore-mode claim (the default) and no-claim, from the same checkpoint of
// a killed keyed-aggregate job: claim keeps the job id and directory and numbers its checkpoints
// after the restored one, building incrementally on it; no-claim starts a new job directory with
// a full first checkpoint and leaves the restored job's directory exactly as it was. Both commit
// exactly-once output.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> Tree(const std::string& dir) {
  std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> tree;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    tree[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, e.last_write_time()};
  }
  return tree;
}

json List(const std::string& dir) {
  return json::parse(WeirOutput("checkpoints list --json " + dir));
}

TEST(RestoreModeTest, ClaimContinuesTheJobAndNoClaimLeavesItUntouched) {
  testing::TempDir tmp;
  const uint64_t events = 60000, keys = 500;
  const auto run = [&](std::vector<std::string> run_options, const std::string& out, int kill_ms) {
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), run_options.begin(), run_options.end());
    for (std::string a : {"-D", "execution.checkpointing.interval=100ms", "-D",
                          "state.checkpoints.num-retained=1000", "-D",
                          "state.backend.incremental=true", "-D", "parallelism.default=2", "-D"}) {
      args.push_back(a);
    }
    args.push_back("state.checkpoints.dir=" + tmp.Sub("checkpoints"));
    for (std::string a :
         {"keyed-aggregate", "--events", "60000", "--keys", "500", "--rate", "20000", "--output"}) {
      args.push_back(a);
    }
    args.push_back(out);
    return RunWeir(args, kill_ms, tmp.Sub("stderr.txt"));
  };
  // A job killed after some checkpoints completed.
  const auto first = run({}, tmp.Sub("out"), 1200);
  ASSERT_TRUE(first.killed) << first.stderr_text;
  json listed = List(tmp.Sub("checkpoints"));
  ASSERT_FALSE(listed.empty()) << first.stderr_text;
  const std::string job_id = listed.back()["job_id"];
  const uint64_t restored_id = listed.back()["id"];
  const std::string latest = listed.back()["path"];
  const std::string job_dir = tmp.Sub("checkpoints/" + job_id);
  // Each resumed run gets its own copy of the output so far (with its pending parts).
  fs::copy(tmp.Sub("out"), tmp.Sub("out-no-claim"), fs::copy_options::recursive);
  fs::copy(tmp.Sub("out"), tmp.Sub("out-claim"), fs::copy_options::recursive);
  fs::copy(tmp.Sub("out"), tmp.Sub("out-beside"), fs::copy_options::recursive);
  const auto before = Tree(job_dir);

  // No-claim is the default (Flink 2's): no --restore-mode.
  const auto no_claim = run({"-s", latest}, tmp.Sub("out-no-claim"), -1);
  ASSERT_EQ(no_claim.exit_code, 0) << no_claim.stderr_text;
  EXPECT_EQ(Tree(job_dir), before) << "no-claim changed the restored job's directory";
  std::string new_job;
  uint64_t first_new_id = UINT64_MAX;
  std::string first_new_kind;
  for (const auto& c : List(tmp.Sub("checkpoints"))) {
    if (c["job_id"] == job_id) continue;
    new_job = c["job_id"];
    if (c["id"].get<uint64_t>() < first_new_id) {
      first_new_id = c["id"];
      first_new_kind = c["kind"];
    }
  }
  ASSERT_FALSE(new_job.empty()) << "no-claim should write to a new job directory";
  EXPECT_EQ(first_new_kind, "full");
  // Numbered on from the restored checkpoint, as Flink does.
  EXPECT_EQ(first_new_id, restored_id + 1);
  Status exact = testing::CheckRunningCounts(tmp.Sub("out-no-claim"),
                                             testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();

  const auto claim = run({"-s", latest, "--restore-mode", "CLAIM"}, tmp.Sub("out-claim"), -1);
  ASSERT_EQ(claim.exit_code, 0) << claim.stderr_text;
  std::set<std::string> jobs;
  uint64_t first_after = UINT64_MAX;
  std::string first_after_kind;
  for (const auto& c : List(tmp.Sub("checkpoints"))) {
    jobs.insert(c["job_id"].get<std::string>());
    if (c["job_id"] == job_id && c["id"].get<uint64_t>() > restored_id &&
        c["id"].get<uint64_t>() < first_after) {
      first_after = c["id"];
      first_after_kind = c["kind"];
    }
  }
  EXPECT_EQ(jobs.size(), 2u) << "claim must not create another job directory";
  EXPECT_GT(first_after, restored_id) << "claim numbers its checkpoints after the restored one";
  EXPECT_NE(first_after, UINT64_MAX);
  EXPECT_EQ(first_after_kind, "incremental");
  exact = testing::CheckRunningCounts(tmp.Sub("out-claim"),
                                      testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();

  // Without state.checkpoints.dir, the resumed job's checkpoints go beside the restored job's
  // directory (a new job directory there).
  const auto beside = RunWeir(
      {"run", "-s", latest, "-D", "execution.checkpointing.interval=100ms", "-D",
       "parallelism.default=2", "-D", "state.backend.incremental=true", "keyed-aggregate",
       "--events", "60000", "--keys", "500", "--rate", "20000", "--output", tmp.Sub("out-beside")},
      -1, tmp.Sub("stderr.txt"));
  ASSERT_EQ(beside.exit_code, 0) << beside.stderr_text;
  std::set<std::string> after;
  for (const auto& c : List(tmp.Sub("checkpoints"))) after.insert(c["job_id"].get<std::string>());
  EXPECT_EQ(after.size(), 3u) << "a third job directory beside the other two";
}

}  // namespace
}  // namespace weir::e2e
