// `weir run` on bad input: a -s path that does not exist or is not a checkpoint, a checkpoint of
// a job with other operators, a malformed configuration. Each gives one clear error line and a
// non-zero exit, and leaves the checkpoint directory as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;

// Every file under `dir` with its size and modification time.
std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> Tree(const std::string& dir) {
  std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> tree;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    tree[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, e.last_write_time()};
  }
  return tree;
}

class RunErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      // Large enough for several checkpoints to complete while it runs.
      std::ofstream words(tmp_.Sub("words.txt"));
      for (int i = 0; i < 60000; ++i) words << "to be or not to be " << i % 1000 << "\n";
    }
    // A completed wordcount job with two retained checkpoints.
    const auto r = RunWeir({"run", "-D", "execution.checkpointing.interval=50ms", "-D",
                            "state.checkpoints.dir=" + tmp_.Sub("checkpoints"), "-D",
                            "state.checkpoints.num-retained=2", "wordcount", "--input",
                            tmp_.Sub("words.txt"), "--output", tmp_.Sub("out")},
                           -1, tmp_.Sub("setup.txt"));
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    for (const auto& job : fs::directory_iterator(tmp_.Sub("checkpoints"))) {
      for (const auto& chk : fs::directory_iterator(job.path())) {
        const std::string name = chk.path().filename().string();
        if (name.rfind("chk-", 0) == 0) checkpoints_.push_back(chk.path().string());
      }
    }
    // By id, not by name: "chk-10" sorts before "chk-9" as a string.
    const auto id = [](const std::string& path) {
      return std::stoull(path.substr(path.rfind("chk-") + 4));
    };
    std::sort(checkpoints_.begin(), checkpoints_.end(),
              [&](const std::string& a, const std::string& b) { return id(a) < id(b); });
    ASSERT_FALSE(checkpoints_.empty());
    before_ = Tree(tmp_.Sub("checkpoints"));
  }

  // Runs weir and expects exactly one error line containing every one of `needles`.
  void ExpectOneErrorLine(const std::vector<std::string>& args,
                          const std::vector<std::string>& needles) {
    const auto r = RunWeir(args, -1, tmp_.Sub("stderr.txt"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n'), 1) << r.stderr_text;
    for (const auto& n : needles)
      EXPECT_NE(r.stderr_text.find(n), std::string::npos) << r.stderr_text;
    EXPECT_EQ(Tree(tmp_.Sub("checkpoints")), before_) << "the checkpoint directory changed";
  }

  std::vector<std::string> KeyedAggregate(std::vector<std::string> run_options) {
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), run_options.begin(), run_options.end());
    for (const char* a : {"keyed-aggregate", "--events", "10", "--keys", "2", "--output"}) {
      args.push_back(a);
    }
    args.push_back(tmp_.Sub("ka-out"));
    return args;
  }

  testing::TempDir tmp_;
  std::vector<std::string> checkpoints_;
  std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> before_;
};

TEST_F(RunErrorsTest, RestorePathThatDoesNotExist) {
  const std::string missing = tmp_.Sub("checkpoints/nope/chk-9");
  ExpectOneErrorLine(KeyedAggregate({"-s", missing}), {"weir run: ", missing});
}

TEST_F(RunErrorsTest, RestorePathThatIsNotACheckpoint) {
  ExpectOneErrorLine(KeyedAggregate({"-s", tmp_.Sub("words.txt")}), {"words.txt"});
  fs::create_directories(tmp_.Sub("fake/chk-3"));
  std::ofstream(tmp_.Sub("fake/chk-3/_metadata")) << "not a checkpoint at all, but long enough";
  ExpectOneErrorLine(KeyedAggregate({"-s", tmp_.Sub("fake/chk-3")}),
                     {"fake/chk-3/_metadata", "not a weir checkpoint"});
}

TEST_F(RunErrorsTest, CheckpointOfAJobWithOtherOperators) {
  ExpectOneErrorLine(KeyedAggregate({"-s", checkpoints_.back()}),
                     {"holds state of operator", "keyed-aggregate"});
  // The same with no-claim: refused before anything runs as well.
  ExpectOneErrorLine(KeyedAggregate({"-s", checkpoints_.back(), "--restore-mode", "no-claim"}),
                     {"holds state of operator"});
}

TEST_F(RunErrorsTest, ClaimingACheckpointThatIsNotTheLatest) {
  ASSERT_GE(checkpoints_.size(), 2u);
  ExpectOneErrorLine({"run", "-s", checkpoints_.front(), "--restore-mode", "claim", "wordcount",
                      "--input", tmp_.Sub("words.txt"), "--output", tmp_.Sub("out")},
                     {"is not the latest", "no-claim"});
}

TEST_F(RunErrorsTest, MalformedConfiguration) {
  std::ofstream(tmp_.Sub("bad-key.yaml")) << "execution:\n  checkpointing:\n    intervall: 1s\n";
  ExpectOneErrorLine(
      KeyedAggregate({"--config", tmp_.Sub("bad-key.yaml")}),
      {"bad-key.yaml", "unknown configuration key 'execution.checkpointing.intervall'"});
  std::ofstream(tmp_.Sub("bad-yaml.yaml")) << "parallelism.default: [1, 2\n";
  ExpectOneErrorLine(KeyedAggregate({"--config", tmp_.Sub("bad-yaml.yaml")}), {"bad-yaml.yaml"});
  ExpectOneErrorLine(KeyedAggregate({"-D", "execution.checkpointing.interval=fast"}),
                     {"execution.checkpointing.interval", "'fast'"});
  ExpectOneErrorLine(KeyedAggregate({"--restore-mode", "steal", "-s", checkpoints_.back()}),
                     {"--restore-mode 'steal'"});
  ExpectOneErrorLine(KeyedAggregate({"--config", tmp_.Sub("missing.yaml")}), {"missing.yaml"});
}

TEST_F(RunErrorsTest, UnknownJobAndBadJobArguments) {
  ExpectOneErrorLine({"run", "wordcont"}, {"no bundled job named 'wordcont'", "wordcount"});
  ExpectOneErrorLine({"run", "keyed-aggregate", "--events", "many", "--output", "x"}, {"--events"});
}

TEST_F(RunErrorsTest, DamagedCheckpointFileIsNamedAndNotRetried) {
  // Flip a byte in the largest state file of the latest checkpoint.
  std::string victim;
  uintmax_t largest = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp_.Sub("checkpoints"))) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name != "_metadata" && e.file_size() > largest &&
        e.path().string().find(checkpoints_.back()) != std::string::npos) {
      largest = e.file_size();
      victim = e.path().string();
    }
  }
  if (victim.empty()) {  // incremental: the files live in shared/
    for (const auto& e : fs::recursive_directory_iterator(tmp_.Sub("checkpoints"))) {
      if (e.is_regular_file() && e.path().extension() == ".sst" && e.file_size() > largest) {
        largest = e.file_size();
        victim = e.path().string();
      }
    }
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(largest / 2));
    f.put('\x5a');
  }
  before_ = Tree(tmp_.Sub("checkpoints"));
  const auto r =
      RunWeir({"run", "-s", checkpoints_.back(), "-D", "restart-strategy.fixed-delay.delay=10s",
               "wordcount", "--input", tmp_.Sub("words.txt"), "--output", tmp_.Sub("out")},
              -1, tmp_.Sub("stderr.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find(fs::path(victim).filename().string()), std::string::npos)
      << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find("restarting"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(Tree(tmp_.Sub("checkpoints")), before_) << "the checkpoint directory changed";
}

// Not an error case, but the same fixture: inspect shows the job's operators and their state.
TEST_F(RunErrorsTest, InspectShowsTheOperatorsOfTheJob) {
  const std::string out = WeirOutput("checkpoints inspect " + checkpoints_.back());
  for (const char* uid : {"lines", "split", "count", "sink"}) {
    EXPECT_NE(out.find(std::string("operator      ") + uid), std::string::npos) << out;
  }
  EXPECT_NE(out.find("operator state: 1 subtask(s)"), std::string::npos) << out;
}

TEST_F(RunErrorsTest, AValidYamlConfigurationIsApplied) {
  std::ofstream(tmp_.Sub("good.yaml"))
      << "parallelism.default: 2\nexecution:\n  checkpointing:\n    interval: 50ms\n"
      << "state.checkpoints.dir: " << tmp_.Sub("yaml-checkpoints") << "\n";
  const auto r =
      RunWeir(KeyedAggregate({"--config", tmp_.Sub("good.yaml")}), -1, tmp_.Sub("stderr.txt"));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_TRUE(fs::exists(tmp_.Sub("yaml-checkpoints")));
}

}  // namespace
}  // namespace weir::e2e
