// Every `weir checkpoints` command and `weir run -s` (claim, no-claim, fallback,
// DELETE_ON_CANCELLATION) over hostile job directories: crafted identifiers in `_metadata`,
// symbolic links at several depths, foreign folders shaped like job directories, FIFOs. Canary
// files lie around and inside them; every canary must survive every command, and every command
// must end (a FIFO must not hang it).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_metadata.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class HostileDirectoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("checkpoints");
    outside_ = tmp_.Sub("outside");
    fs::create_directories(outside_ + "/shared");
    for (const char* name : {"canary.txt", "shared/canary.sst", "_metadata"}) {
      const std::string path = outside_ + "/" + name;
      std::ofstream(path) << "canary " << name;
      canaries_.push_back(path);
    }
  }

  // A real job with a few retained incremental checkpoints; returns its job directory.
  std::string MakeJob(const std::string& name, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run",
                                     "-D",
                                     "execution.checkpointing.interval=50ms",
                                     "-D",
                                     "state.checkpoints.num-retained=3",
                                     "-D",
                                     "state.backend.incremental=true",
                                     "-D",
                                     "state.checkpoints.dir=" + tmp_.Sub(name)};
    args.insert(args.end(), extra.begin(), extra.end());
    for (std::string a :
         {"keyed-aggregate", "--events", "30000", "--keys", "300", "--rate", "30000", "--output"}) {
      args.push_back(a);
    }
    args.push_back(tmp_.Sub(name + "-out"));
    const auto r = RunWeir(args, -1, tmp_.Sub("stderr.txt"));
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    for (const auto& e : fs::directory_iterator(tmp_.Sub(name))) return e.path().string();
    ADD_FAILURE() << "no job directory in " << tmp_.Sub(name);
    return "";
  }

  std::vector<uint64_t> Checkpoints(const std::string& job_dir) {
    std::vector<uint64_t> ids;
    for (const auto& e : fs::directory_iterator(job_dir)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("chk-", 0) == 0 && fs::exists(e.path() / "_metadata")) {
        ids.push_back(std::stoull(n.substr(4)));
      }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  CheckpointMetadata Read(const std::string& job_dir, uint64_t id) {
    auto m = ReadCheckpointMetadata(*NewPosixFileSystem(),
                                    job_dir + "/chk-" + std::to_string(id) + "/_metadata");
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : CheckpointMetadata{};
  }

  // Rewrites checkpoint `id`'s `_metadata` after `craft` changed it (a valid checksum: crafted by
  // someone who knows the format).
  void Craft(const std::string& job_dir, uint64_t id,
             const std::function<void(CheckpointMetadata&)>& craft) {
    CheckpointMetadata m = Read(job_dir, id);
    craft(m);
    std::ofstream(job_dir + "/chk-" + std::to_string(id) + "/_metadata", std::ios::trunc)
        << EncodeCheckpointMetadata(m);
  }

  ProcessResult Weir(const std::vector<std::string>& args) {
    // Every command must end: 60 s is far beyond any of them here.
    auto r = RunWeir(args, 60000, tmp_.Sub("stderr.txt"));
    EXPECT_FALSE(r.killed) << "weir " << args[0] << " " << args[1] << " hung";
    EXPECT_FALSE(r.crashed) << r.stderr_text;
    return r;
  }

  void ExpectCanariesSurvive() {
    for (const auto& c : canaries_) EXPECT_TRUE(fs::exists(c)) << c << " was deleted";
  }

  // Every checkpoints command over `dir`, gc deleting with no grace period.
  void RunEveryCheckpointsCommand(const std::string& dir) {
    Weir({"checkpoints", "list", dir});
    Weir({"checkpoints", "verify", dir});
    Weir({"checkpoints", "gc", "--grace", "0", "--delete", dir});
    ExpectCanariesSurvive();
  }

  testing::TempDir tmp_;
  std::string root_, outside_;
  std::vector<std::string> canaries_;
};

TEST_F(HostileDirectoriesTest, CraftedJobIdNeverBecomesAPath) {
  const std::string job = MakeJob("jobs");
  const uint64_t latest = Checkpoints(job).back();
  Craft(job, latest, [&](CheckpointMetadata& m) { m.job_id = "x/../../outside"; });
  const auto r = Weir({"run", "-s", job + "/chk-" + std::to_string(latest), "--restore-mode",
                       "claim", "-D", "execution.checkpointing.interval=50ms", "keyed-aggregate",
                       "--events", "40000", "--keys", "300", "--output", tmp_.Sub("out2")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("job id"), std::string::npos) << r.stderr_text;
  RunEveryCheckpointsCommand(tmp_.Sub("jobs"));
  EXPECT_TRUE(fs::exists(job + "/chk-" + std::to_string(latest) + "/_metadata"));
}

TEST_F(HostileDirectoriesTest, CraftedFilePathsAndLinksInsideSharedAreNeverFollowed) {
  const std::string job = MakeJob("jobs");
  const auto ids = Checkpoints(job);
  ASSERT_GE(ids.size(), 2u);
  // A directory link inside shared/, and the oldest retained checkpoint claiming a file through
  // it: when that checkpoint is subsumed, the cleaner must refuse to delete through the link.
  fs::create_directory_symlink(outside_ + "/shared", job + "/shared/evil");
  fs::create_directories(job + "/shared/deeper");
  fs::create_directory_symlink(outside_, job + "/shared/deeper/link");
  Craft(job, ids.front(), [&](CheckpointMetadata& m) {
    m.backends[0].files.push_back(
        {"shared/evil/canary.sst", 20, 0, StateFileRole::kShared, "evil.sst", m.checkpoint_id});
    m.backends[0].files.push_back({"shared/deeper/link/canary.txt", 20, 0, StateFileRole::kShared,
                                   "deeper.sst", m.checkpoint_id});
  });
  const auto verify = Weir({"checkpoints", "verify", tmp_.Sub("jobs")});
  EXPECT_EQ(verify.exit_code, 1) << "links in a job directory are not healthy";
  RunEveryCheckpointsCommand(tmp_.Sub("jobs"));
  // Claim the latest and run on: retention subsumes the crafted checkpoint.
  const auto r = Weir({"run",
                       "-s",
                       job + "/chk-" + std::to_string(ids.back()),
                       "--restore-mode",
                       "claim",
                       "-D",
                       "execution.checkpointing.interval=50ms",
                       "-D",
                       "state.checkpoints.num-retained=1",
                       "-D",
                       "state.backend.incremental=true",
                       "keyed-aggregate",
                       "--events",
                       "40000",
                       "--keys",
                       "300",
                       "--rate",
                       "30000",
                       "--output",
                       tmp_.Sub("jobs-out")});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  ExpectCanariesSurvive();
}

TEST_F(HostileDirectoriesTest, SharedDirectoryThatIsALinkIsRefusedByVerifyAndRestore) {
  const std::string job = MakeJob("jobs");
  const uint64_t latest = Checkpoints(job).back();
  // shared/ replaced by a link to a copy elsewhere: the bytes match, the place does not.
  fs::copy(job + "/shared", outside_ + "/copied", fs::copy_options::recursive);
  fs::remove_all(job + "/shared");
  fs::create_directory_symlink(outside_ + "/copied", job + "/shared");
  for (const auto& e : fs::recursive_directory_iterator(outside_ + "/copied")) {
    canaries_.push_back(e.path().string());
  }
  EXPECT_EQ(Weir({"checkpoints", "verify", tmp_.Sub("jobs")}).exit_code, 1);
  for (const char* mode : {"claim", "no-claim"}) {
    const auto r =
        Weir({"run", "-s", job + "/chk-" + std::to_string(latest), "--restore-mode", mode, "-D",
              "state.checkpoints.dir=" + tmp_.Sub("new"), "keyed-aggregate", "--events", "40000",
              "--keys", "300", "--output", tmp_.Sub(std::string("out-") + mode)});
    EXPECT_EQ(r.exit_code, 1) << mode << ": " << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("symbolic link"), std::string::npos) << r.stderr_text;
  }
  RunEveryCheckpointsCommand(tmp_.Sub("jobs"));
}

TEST_F(HostileDirectoriesTest, ForeignFoldersShapedLikeJobDirectoriesAreLeftAlone) {
  MakeJob("jobs");
  // Someone else's data, laid out like a job directory.
  const std::string foreign = tmp_.Sub("jobs/not-weir");
  fs::create_directories(foreign + "/shared");
  fs::create_directories(foreign + "/chk-3");
  for (const char* name : {"shared/data.sst", "chk-3/notes.txt", "chk-3/_metadata"}) {
    std::ofstream(foreign + "/" + name) << "theirs";
    canaries_.push_back(foreign + "/" + name);
  }
  const auto list = Weir({"checkpoints", "list", tmp_.Sub("jobs")});
  EXPECT_EQ(list.exit_code, 0) << list.stderr_text;
  EXPECT_NE(list.stderr_text.find("not-weir: not a weir job or savepoint directory"),
            std::string::npos)
      << list.stderr_text;
  RunEveryCheckpointsCommand(tmp_.Sub("jobs"));
  RunEveryCheckpointsCommand(foreign);
}

TEST_F(HostileDirectoriesTest, FifosNeverHangACommand) {
  const std::string job = MakeJob("jobs");
  fs::create_directories(job + "/chk-999");
  ASSERT_EQ(::mkfifo((job + "/chk-999/_metadata").c_str(), 0644), 0);
  ASSERT_EQ(::mkfifo((job + "/shared/pipe").c_str(), 0644), 0);
  const auto verify = Weir({"checkpoints", "verify", tmp_.Sub("jobs")});
  EXPECT_EQ(verify.exit_code, 1);
  RunEveryCheckpointsCommand(tmp_.Sub("jobs"));
  const auto r = Weir({"run", "-s", job + "/chk-999", "keyed-aggregate", "--events", "100",
                       "--output", tmp_.Sub("fifo-out")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("not a regular file"), std::string::npos) << r.stderr_text;
}

TEST_F(HostileDirectoriesTest, FallbackNeverLosesTheIntactCheckpoint) {
  const std::string job = MakeJob("jobs");
  const auto ids = Checkpoints(job);
  ASSERT_GE(ids.size(), 2u);
  // The latest checkpoint loses a file: a claimed run falls back to the one before it.
  const CheckpointMetadata damaged = Read(job, ids.back());
  for (const auto& f : damaged.backends[0].files) {
    if (f.written_by_checkpoint == ids.back()) {
      fs::remove(job + "/" + f.path);
      break;
    }
  }
  // Killed before it completes a checkpoint of its own (the interval is an hour): retention
  // must not have subsumed the intact checkpoint on account of the damaged one.
  const uint64_t intact = ids[ids.size() - 2];
  const auto r = RunWeir({"run",
                          "-s",
                          job + "/chk-" + std::to_string(ids.back()),
                          "--restore-mode",
                          "claim",
                          "-D",
                          "state.checkpoints.fallback-to-older=true",
                          "-D",
                          "state.checkpoints.num-retained=1",
                          "-D",
                          "execution.checkpointing.interval=1h",
                          "keyed-aggregate",
                          "--events",
                          "1000000000000",
                          "--keys",
                          "300",
                          "--rate",
                          "1000",
                          "--output",
                          tmp_.Sub("jobs-out")},
                         3000, tmp_.Sub("stderr.txt"));
  EXPECT_TRUE(r.killed) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("falling back to checkpoint " + std::to_string(intact)),
            std::string::npos)
      << r.stderr_text;
  // The damaged checkpoint is kept as it was, for the user to look at.
  EXPECT_NE(WeirOutput("checkpoints verify " + job).find("MISSING"), std::string::npos);
  // Resumed with another --output, the sink's pending parts are not there: a restart could not
  // help, so the job fails at once, with one error and no restart.
  const auto moved = Weir({"run", "-s", job + "/chk-" + std::to_string(intact), "--restore-mode",
                           "no-claim", "-D", "state.checkpoints.dir=" + tmp_.Sub("moved"), "-D",
                           "restart-strategy=fixed-delay", "keyed-aggregate", "--events", "40000",
                           "--keys", "300", "--output", tmp_.Sub("elsewhere")});
  EXPECT_EQ(moved.exit_code, 1);
  EXPECT_NE(moved.stderr_text.find("pending part"), std::string::npos) << moved.stderr_text;
  EXPECT_EQ(moved.stderr_text.find("restarting"), std::string::npos) << moved.stderr_text;
  const auto resume =
      Weir({"run", "-s", job + "/chk-" + std::to_string(intact), "--restore-mode", "no-claim", "-D",
            "state.checkpoints.dir=" + tmp_.Sub("resumed"), "keyed-aggregate", "--events", "40000",
            "--keys", "300", "--output", tmp_.Sub("jobs-out")});
  EXPECT_EQ(resume.exit_code, 0) << resume.stderr_text;
}

TEST_F(HostileDirectoriesTest, DeleteOnCancellationDeletesOnlyWhatWeirOwns) {
  const std::string job = MakeJob("jobs");
  const uint64_t latest = Checkpoints(job).back();
  // The user keeps other things beside the checkpoints.
  fs::create_directories(job + "/mine");
  for (const char* name : {"notes.txt", "mine/data.bin"}) {
    std::ofstream(job + "/" + name) << "mine";
    canaries_.push_back(job + "/" + name);
  }
  std::vector<std::string> args = {
      "run",
      "-s",
      job + "/chk-" + std::to_string(latest),
      "--restore-mode",
      "claim",
      "-D",
      "execution.checkpointing.externalized-checkpoint-retention=DELETE_ON_CANCELLATION",
      "-D",
      "execution.checkpointing.interval=50ms",
      "keyed-aggregate",
      "--events",
      "1000000000000",
      "--keys",
      "300",
      "--rate",
      "20000",
      "--output",
      tmp_.Sub("jobs-out")};
  std::vector<std::string> all = {WeirBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // Cancel once the claimed job has taken a checkpoint of its own.
  const auto newest = [&] {
    const auto ids = Checkpoints(job);
    return ids.empty() ? latest : ids.back();
  };
  for (int i = 0; i < 600 && newest() == latest; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130);
  ExpectCanariesSurvive();
  EXPECT_FALSE(fs::exists(job + "/shared"));
  EXPECT_TRUE(Checkpoints(job).empty());
}

TEST_F(HostileDirectoriesTest, UnknownSchemesAndEmptyPathsAreRefused) {
  for (const char* scheme : {"anything://x/y", "hdfs://namenode/ckpt"}) {
    const auto r = Weir({"run", "-D", std::string("state.checkpoints.dir=") + scheme, "-D",
                         "execution.checkpointing.interval=1s", "keyed-aggregate", "--events", "10",
                         "--output", tmp_.Sub("out")});
    EXPECT_EQ(r.exit_code, 1) << scheme;
    EXPECT_NE(r.stderr_text.find("is not supported"), std::string::npos) << r.stderr_text;
    EXPECT_EQ(Weir({"checkpoints", "list", scheme}).exit_code, 1);
  }
  EXPECT_FALSE(fs::exists("anything:")) << "an unknown scheme became a local path";
  const auto empty =
      Weir({"run", "-s", "", "keyed-aggregate", "--events", "10", "--output", tmp_.Sub("out")});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.stderr_text.find("empty"), std::string::npos) << empty.stderr_text;
}

}  // namespace
}  // namespace weir::e2e
