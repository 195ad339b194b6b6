// Runs the `weir` binary as a child process: to completion, or killed with SIGKILL after a while.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weir::e2e {

struct ProcessResult {
  bool killed = false;   // by us (SIGKILL), before it ended
  bool crashed = false;  // killed by a signal we did not send (a failpoint's crash)
  int exit_code = -1;
  std::string stderr_text;
};

// Runs WEIR_BINARY with `args`; kills it after `kill_after_ms` (< 0: never). stderr goes to
// `stderr_path` (read back into the result).
// The binary to run: WEIR_BINARY, unless SetWeirBinary() chose another (a stable copy while the
// build tree changes under a long run).
inline std::string& WeirBinary() {
  static std::string binary = WEIR_BINARY;
  return binary;
}
inline void SetWeirBinary(std::string path) { WeirBinary() = std::move(path); }

inline ProcessResult RunWeir(const std::vector<std::string>& args, int kill_after_ms,
                             const std::string& stderr_path) {
  std::vector<std::string> all = {WeirBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ProcessResult result;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    result.stderr_text = "cannot start " + all[0];
    return result;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (kill_after_ms >= 0) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid, &status, WNOHANG) == pid) goto ended;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, SIGKILL);
    result.killed = true;
  }
  waitpid(pid, &status, 0);
ended:
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status) && !result.killed) result.crashed = true;
  if (FILE* f = std::fopen(stderr_path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) result.stderr_text.append(buf, n);
    std::fclose(f);
  }
  return result;
}

// stdout of a weir command (for `checkpoints list --json`).
inline std::string WeirOutput(const std::string& args) {
  std::string out;
  if (FILE* p = popen((WeirBinary() + " " + args + " 2>/dev/null").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

// The `path` of the newest checkpoint `weir checkpoints list --json <options> <dir>` shows; empty
// if there is none.
inline std::string LatestCheckpoint(const std::string& dir, const std::string& options = "") {
  auto parsed = nlohmann::json::parse(
      WeirOutput("checkpoints list --json " + options + (options.empty() ? "" : " ") + dir),
      nullptr, false);
  std::string path;
  uint64_t best = 0;
  if (!parsed.is_array()) return path;
  for (const auto& c : parsed) {
    if (c["id"].get<uint64_t>() >= best) {
      best = c["id"].get<uint64_t>();
      path = c["path"].get<std::string>();
    }
  }
  return path;
}

}  // namespace weir::e2e
