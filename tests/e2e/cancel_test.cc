// SIGINT/SIGTERM cancel `weir run` gracefully: exit 130/143, and the checkpoints stay
// (RETAIN_ON_CANCELLATION) or go (DELETE_ON_CANCELLATION).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;

// Starts an unbounded keyed-aggregate, sends `sig` after 1.5 s, returns the exit code.
int RunAndSignal(const testing::TempDir& tmp, int sig, const std::string& retention) {
  std::vector<std::string> args = {
      WEIR_BINARY,
      "run",
      "-D",
      "execution.checkpointing.interval=100ms",
      "-D",
      "state.checkpoints.dir=" + tmp.Sub("checkpoints"),
      "-D",
      "execution.checkpointing.externalized-checkpoint-retention=" + retention,
      "keyed-aggregate",
      "--events",
      "1000000000000",
      "--keys",
      "100",
      "--rate",
      "20000",
      "--output",
      tmp.Sub("out")};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&actions);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t CompletedCheckpoints(const std::string& dir) {
  auto listed = nlohmann::json::parse(WeirOutput("checkpoints list --json " + dir), nullptr, false);
  return listed.is_array() ? listed.size() : 0;
}

TEST(CancelTest, SigtermKeepsTheCheckpointsByDefault) {
  testing::TempDir tmp;
  EXPECT_EQ(RunAndSignal(tmp, SIGTERM, "RETAIN_ON_CANCELLATION"), 143);
  EXPECT_GE(CompletedCheckpoints(tmp.Sub("checkpoints")), 1u);
}

TEST(CancelTest, SigintWithDeleteOnCancellationRemovesThem) {
  testing::TempDir tmp;
  EXPECT_EQ(RunAndSignal(tmp, SIGINT, "DELETE_ON_CANCELLATION"), 130);
  EXPECT_EQ(CompletedCheckpoints(tmp.Sub("checkpoints")), 0u);
  // The job directory itself is gone.
  EXPECT_TRUE(fs::is_empty(tmp.Sub("checkpoints")));
}

}  // namespace
}  // namespace weir::e2e
