// Savepoints and job control from the command line, as a user runs them against `weir run`:
// `weir savepoint` prints the savepoint's directory, which restores after being copied elsewhere
// and the original and the job directory deleted; `weir checkpoint --full`; `weir stop` ends the
// job (exit 0) and the job resumed from its savepoint commits every record exactly once;
// `weir cancel`; a token-protected API refuses the CLI without the token.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr uint64_t kEvents = 60000, kKeys = 300;

// `weir run` in the background; its REST address and job id read from its log.
class BackgroundJob {
 public:
  BackgroundJob(const testing::TempDir& tmp, std::vector<std::string> extra,
                const std::string& log_name = "run.log")
      : log_(tmp.Sub(log_name)) {
    std::vector<std::string> args = {
        WeirBinary(),
        "run",
        "-D",
        "parallelism.default=2",
        "-D",
        "execution.checkpointing.interval=200ms",
        "-D",
        "state.backend.incremental=true",
        "-D",
        "state.checkpoints.dir=" + tmp.Sub("checkpoints"),
        "-D",  // Flink 2's name of state.savepoints.dir.
        "execution.checkpointing.savepoint-dir=" + tmp.Sub("savepoints"),
        "-D",
        "rest.port=0"};
    args.insert(args.end(), extra.begin(), extra.end());
    for (const char* a : {"keyed-aggregate", "--events"}) args.push_back(a);
    args.push_back(std::to_string(kEvents));
    for (const char* a : {"--keys"}) args.push_back(a);
    args.push_back(std::to_string(kKeys));
    args.push_back("--rate");
    args.push_back("8000");
    args.push_back("--output");
    args.push_back(tmp.Sub("out"));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    const std::regex address(R"(REST API at (http://[0-9.]+:[0-9]+)/ \(job ([0-9a-f]{32})\))");
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          std::ifstream in(log_);
          std::string text((std::istreambuf_iterator<char>(in)), {});
          std::smatch m;
          if (!std::regex_search(text, m, address)) return false;
          url_ = m[1];
          job_id_ = m[2];
          return true;
        },
        std::chrono::seconds(30)));
  }
  ~BackgroundJob() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& url() const { return url_; }
  const std::string& job_id() const { return job_id_; }
  std::string Log() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  std::string url_, job_id_;
};

// A weir command's stdout (trailing newline dropped) and exit code; stderr into `err`.
std::pair<std::string, int> Weir(const std::string& args, std::string* err = nullptr) {
  const std::string err_path = fs::temp_directory_path() / ("weir-cli-" + std::to_string(getpid()));
  std::string out;
  FILE* p = popen((WeirBinary() + " " + args + " 2>" + err_path).c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (err != nullptr) {
    std::ifstream in(err_path);
    *err = std::string((std::istreambuf_iterator<char>(in)), {});
  }
  fs::remove(err_path);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

size_t CompletedCheckpoints(const std::string& dir) {
  auto listed = json::parse(WeirOutput("checkpoints list --json " + dir), nullptr, false);
  return listed.is_array() ? listed.size() : 0;
}

TEST(SavepointCliTest, SavepointCopyStopAndResumeExactlyOnce) {
  testing::TempDir tmp;
  std::string copied, stopped;
  {
    BackgroundJob job(tmp, {});
    ASSERT_FALSE(job.url().empty()) << job.Log();
    ASSERT_TRUE(testing::WaitFor([&] { return CompletedCheckpoints(tmp.Sub("checkpoints")) >= 1; },
                                 std::chrono::seconds(30)));
    // A native savepoint into a directory of our choosing, then copied elsewhere.
    auto [native, rc] = Weir("savepoint --rest " + job.url() + " --type native " + job.job_id() +
                             " " + tmp.Sub("mine"));
    ASSERT_EQ(rc, 0) << job.Log();
    EXPECT_EQ(fs::path(native).parent_path(), fs::path(tmp.Sub("mine")));
    auto listed =
        json::parse(WeirOutput("checkpoints list --json " + tmp.Sub("mine")), nullptr, false);
    ASSERT_TRUE(listed.is_array());
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["kind"], "native savepoint");
    EXPECT_TRUE(listed[0]["savepoint"].get<bool>());
    EXPECT_EQ(Weir("checkpoints verify " + native).second, 0);
    // A manual full checkpoint.
    auto [checkpoint, checkpoint_rc] =
        Weir("checkpoint --full --rest " + job.url() + " " + job.job_id());
    ASSERT_EQ(checkpoint_rc, 0);
    EXPECT_NE(checkpoint.find("(full)"), std::string::npos) << checkpoint;
    // Stop with a canonical savepoint: the job ends, exit 0.
    std::string err;
    auto [stop, stop_rc] = Weir("stop --rest " + job.url() + " " + job.job_id(), &err);
    ASSERT_EQ(stop_rc, 0) << err << job.Log();
    EXPECT_EQ(fs::path(stop).parent_path(), fs::path(tmp.Sub("savepoints")));
    EXPECT_EQ(job.Wait(), 0) << job.Log();
    stopped = tmp.Sub("elsewhere/stop-copy");
    fs::create_directories(tmp.Sub("elsewhere"));
    fs::copy(stop, stopped, fs::copy_options::recursive);
    fs::remove_all(stop);
    // The job directory goes too: the savepoint references nothing in it.
    fs::remove_all(tmp.Sub("checkpoints"));
  }
  auto inspected = json::parse(WeirOutput("checkpoints inspect --json " + stopped), nullptr, false);
  ASSERT_TRUE(inspected.is_object());
  EXPECT_EQ(inspected["kind"], "canonical savepoint");
  const auto resumed =
      RunWeir({"run", "-s", stopped, "-D", "parallelism.default=3", "-D",
               "execution.checkpointing.interval=200ms", "-D",
               "state.checkpoints.dir=" + tmp.Sub("checkpoints"), "-D", "rest.enabled=false",
               "keyed-aggregate", "--events", std::to_string(kEvents), "--keys",
               std::to_string(kKeys), "--output", tmp.Sub("out")},
              -1, tmp.Sub("resume.log"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.stderr_text;
  const Status exact =
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(kEvents, kKeys));
  EXPECT_TRUE(exact.ok()) << exact.message();
  // The savepoint was left as it was.
  EXPECT_EQ(Weir("checkpoints verify " + stopped).second, 0);
}

TEST(SavepointCliTest, CancelAndErrors) {
  testing::TempDir tmp;
  BackgroundJob job(tmp, {});
  ASSERT_FALSE(job.url().empty()) << job.Log();
  std::string err;
  EXPECT_EQ(Weir("savepoint --rest " + job.url() + " --type zip " + job.job_id(), &err).second, 1);
  EXPECT_NE(err.find("--type"), std::string::npos) << err;
  EXPECT_EQ(
      Weir("savepoint --rest " + job.url() + " ffffffffffffffffffffffffffffffff", &err).second, 1);
  EXPECT_NE(err.find("404"), std::string::npos) << err;
  EXPECT_EQ(Weir("savepoint --rest http://127.0.0.1:1 " + job.job_id(), &err).second, 1);
  EXPECT_NE(err.find("cannot reach"), std::string::npos) << err;
  auto [out, rc] = Weir("cancel --rest " + job.url() + " " + job.job_id());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(job.Wait(), 130) << job.Log();
}

TEST(SavepointCliTest, TokenProtectedControl) {
  testing::TempDir tmp;
  const std::string token = tmp.Sub("token");
  std::ofstream(token) << "a-long-random-token\n";
  ASSERT_EQ(::chmod(token.c_str(), 0600), 0);
  BackgroundJob job(tmp, {"-D", "rest.auth.token-file=" + token});
  ASSERT_FALSE(job.url().empty()) << job.Log();
  std::string err;
  EXPECT_EQ(Weir("checkpoint --rest " + job.url() + " " + job.job_id(), &err).second, 1);
  EXPECT_NE(err.find("401"), std::string::npos) << err;
  auto [stop, rc] =
      Weir("stop --rest " + job.url() + " --token-file " + token + " " + job.job_id(), &err);
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(job.Wait(), 0) << job.Log();
  EXPECT_TRUE(fs::exists(stop + "/_metadata")) << stop;
}

TEST(SavepointCliTest, ControlOnANonLoopbackAddressNeedsAToken) {
  testing::TempDir tmp;
  const auto refused =
      RunWeir({"run", "-D", "rest.bind-address=0.0.0.0", "-D", "rest.control.enabled=true",
               "keyed-aggregate", "--events", "10", "--output", tmp.Sub("out")},
              -1, tmp.Sub("refused.log"));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.stderr_text.find("rest.auth.token-file"), std::string::npos)
      << refused.stderr_text;
}

}  // namespace
}  // namespace weir::e2e
