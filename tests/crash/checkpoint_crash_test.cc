// Crash safety: the driver process is killed (SIGKILL from a failpoint) between two steps of a
// checkpoint, of its cleanup or of a restore. Each time, a restart must restore the latest
// completed checkpoint exactly, `verify` must find nothing missing or corrupt, and gc must then
// leave no orphan.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>

#include "checkpoint/checkpoint_verifier.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

struct Outcome {
  bool killed;
  int exit_code;
};

Outcome Driver(const std::string& failpoints, const std::string& args) {
  const std::string cmd =
      "WEIR_FAILPOINTS='" + failpoints + "' " CRASH_DRIVER " " + args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  // std::system runs a shell, which reports a child killed by SIGKILL as exit code 128 + 9.
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return {code == 137 || (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL), code};
}

struct CrashCase {
  std::string failpoint;  // name=crash@n
  bool full;
};

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << c.failpoint << (c.full ? " (full)" : " (incremental)");
}

class CheckpointCrashTest : public ::testing::TestWithParam<CrashCase> {};

TEST_P(CheckpointCrashTest, RestartRestoresTheLatestCompletedCheckpoint) {
  const auto& c = GetParam();
  testing::TempDir tmp;
  const std::string base = "--dir " + tmp.path() + (c.full ? " --full" : "");

  const Outcome crashed = Driver(c.failpoint, base + " --rounds 8");
  ASSERT_TRUE(crashed.killed) << c.failpoint << " never fired (exit " << crashed.exit_code << ")";

  // Restart: the latest completed checkpoint restores to exactly its round's state.
  Outcome verified = Driver("", base + " --verify");
  ASSERT_EQ(verified.exit_code, 0) << "after a crash at " << c.failpoint;
  // Resume and finish; then everything checks out and gc leaves no orphan.
  ASSERT_EQ(Driver("", base + " --rounds 10").exit_code, 0);
  verified = Driver("", base + " --verify");
  ASSERT_EQ(verified.exit_code, 0);

  const CheckpointStorage storage(NewPosixFileSystem(), tmp.Sub("ckpt/crash-job"));
  auto report = VerifyJobDirectory(storage);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->healthy());
  ASSERT_TRUE(CollectOrphans(storage, *report, INT64_MAX, 0, /*dry_run=*/false).ok());
  report = VerifyJobDirectory(storage);
  EXPECT_TRUE(report->orphans.empty());
  EXPECT_TRUE(report->healthy());
  EXPECT_EQ(Driver("", base + " --verify").exit_code, 0) << "gc deleted something needed";
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, CheckpointCrashTest,
    ::testing::Values(CrashCase{"incremental.upload=crash@5", false},
                      CrashCase{"incremental.after_uploads=crash@3", false},
                      CrashCase{"checkpoint.before_metadata=crash@4", false},
                      CrashCase{"checkpoint.after_metadata=crash@4", false},
                      CrashCase{"checkpoint.after_register=crash@4", false},
                      CrashCase{"cleaner.before_delete_metadata=crash@2", false},
                      CrashCase{"cleaner.before_delete_checkpoint_dir=crash@2", false},
                      CrashCase{"cleaner.before_delete_shared=crash@2", false},
                      CrashCase{"checkpoint.before_metadata=crash@4", true},
                      CrashCase{"checkpoint.after_metadata=crash@4", true},
                      CrashCase{"cleaner.before_delete_checkpoint_dir=crash@2", true}),
    [](const auto& info) {
      std::string name = info.param.failpoint.substr(0, info.param.failpoint.find('='));
      for (char& ch : name) {
        if (ch == '.') ch = '_';
      }
      return name + (info.param.full ? "_full" : "_incremental");
    });

TEST(CheckpointCrashDuringRestoreTest, CrashWhileFetchingThenRestartAgain) {
  testing::TempDir tmp;
  const std::string base = "--dir " + tmp.path();
  ASSERT_EQ(Driver("", base + " --rounds 4").exit_code, 0);
  EXPECT_TRUE(Driver("restore.fetch=crash@2", base + " --rounds 6").killed);
  EXPECT_TRUE(Driver("restore.before_open=crash", base + " --rounds 6").killed);
  ASSERT_EQ(Driver("", base + " --verify").exit_code, 0);
  ASSERT_EQ(Driver("", base + " --rounds 6").exit_code, 0);
  ASSERT_EQ(Driver("", base + " --verify").exit_code, 0);
}

}  // namespace
}  // namespace weir
