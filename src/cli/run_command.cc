#include "cli/run_command.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "bundled_jobs.h"
#include "cli/fail.h"
#include "common/log.h"
#include "io/journaling_file_system.h"
#include "runtime/job_runtime.h"
#include "web/rest_control.h"
#include "web/rest_server.h"
#include "web/web_options.h"
#include "weir/config.h"

namespace weir::cli {
namespace {

struct RunOptions {
  std::string restore_path;
  bool restore_given = false;  // -s was given (even with an empty path)
  std::string config_file;
  std::vector<std::string> assignments;
  std::string restore_mode;
  bool allow_non_restored_state = false;
  std::string job;
  std::vector<std::string> job_args;
};

Result<Configuration> BuildConfiguration(const RunOptions& o) {
  Configuration config;
  if (!o.config_file.empty()) WEIR_RETURN_IF_ERROR(config.LoadYamlFile(o.config_file));
  for (const auto& a : o.assignments) WEIR_RETURN_IF_ERROR(config.SetFromAssignment(a));
  if (o.restore_given) {
    // An empty path would silently start fresh: the user meant to resume something.
    if (o.restore_path.empty()) {
      return Status::InvalidArgument(
          "-s: the checkpoint path is empty (give a _metadata file or "
          "a chk-<N> directory)");
    }
    WEIR_RETURN_IF_ERROR(config.Set(config::kSavepointPath, o.restore_path));
  }
  if (!o.restore_mode.empty()) {
    if (Status s = config.Set(config::kRestoreMode, o.restore_mode); !s.ok()) {
      return Status::InvalidArgument("--restore-mode '" + o.restore_mode +
                                     "' is not claim or no-claim");
    }
  }
  if (o.allow_non_restored_state) {
    WEIR_RETURN_IF_ERROR(config.Set(config::kAllowNonRestoredState, "true"));
  }
  return config;
}

int Run(const RunOptions& o) {
  auto config = BuildConfiguration(o);
  if (!config.ok()) return Fail("run", config.status());
  auto job_main = FindJob(o.job);
  if (!job_main.ok()) return Fail("run", job_main.status());
  auto graph = (*job_main)(o.job_args);
  if (!graph.ok()) return Fail("run", graph.status());
  // SIGINT/SIGTERM cancel the job gracefully: every thread blocks them (so the mask is set before
  // the runtime starts any thread), and one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);  // "the job ended, stop waiting"
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Test hook: journal every durability-relevant file operation, so that a crash test can
  // simulate a power loss of this process's files after killing it (io/journaling_file_system.h).
  std::shared_ptr<FileSystem> fs;
  if (const char* journal = std::getenv("WEIR_POWER_LOSS_JOURNAL"); journal && *journal) {
    auto journaled = JournalingFileSystem::Open(
        NewPosixFileSystem({.owner_only = config->Get(config::kOwnerOnly)}), journal);
    if (!journaled.ok()) return Fail("run", journaled.status());
    fs = *journaled;
    SetDefaultLocalFileSystem(fs);
  }
  // Who may act on the job over REST: a misconfiguration stops here, before anything runs.
  web::RestControlOptions control;
  if (config->Get(config::kRestEnabled)) {
    auto c = web::RestControlFromConfig(*config, config->Get(config::kRestAddress));
    if (!c.ok()) return Fail("run", c.status());
    control = std::move(c).value();
  }
  for (const auto& key : config->ignored_flink_keys()) {
    LogWarn("configuration key '" + key + "' is Flink's and has no effect in weir; ignored");
  }
  auto runtime = JobRuntime::Create(std::move(graph).value(), *config, fs);
  if (!runtime.ok()) return Fail("run", runtime.status());
  int received = 0;
  JobRuntime* job = runtime->get();
  // The REST API, dashboard and metrics: a job that cannot serve them still runs.
  std::unique_ptr<web::RestServer> rest;
  if (config->Get(config::kRestEnabled)) {
    rest = std::make_unique<web::RestServer>(*job, control);
    const std::string address = config->Get(config::kRestAddress);
    if (Status s = rest->Start(address, static_cast<int>(config->Get(config::kRestPort)));
        !s.ok()) {
      LogWarn(s.message() + "; the job runs without it");
      rest.reset();
    } else {
      LogInfo("dashboard and REST API at http://" + address + ":" + std::to_string(rest->port()) +
              "/ (job " + job->job_id() + ")");
    }
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGUSR2) {
      received = sig;
      job->Cancel();
    }
  });
  const JobResult result = job->Run();
  pthread_kill(waiter.native_handle(), SIGUSR2);
  waiter.join();
  // A client that stopped the job with a savepoint learns its path from the REST API: serve it
  // a little longer, until the client had its answer.
  if (rest && !result.stop_request.empty()) {
    rest->WaitForSettledRequestServed(result.stop_request, 2000);
  }
  if (rest) rest->Stop();

  const std::string latest = result.latest_checkpoint.has_value()
                                 ? "; latest checkpoint: " + result.latest_checkpoint_path
                                 : "";
  switch (result.outcome) {
    case JobOutcome::kFinished:
      if (!result.savepoint_path.empty()) {
        std::cout << "job " << job->job_id() << " stopped with savepoint " << result.savepoint_path
                  << "\n";
        return 0;
      }
      std::cout << "job " << job->job_id() << " finished" << latest << "\n";
      return 0;
    case JobOutcome::kCancelled:
      std::cout << "job " << job->job_id() << " cancelled" << latest
                << (result.savepoint_path.empty() ? "" : "; savepoint: " + result.savepoint_path)
                << "\n";
      return received == SIGTERM ? 143 : 130;
    case JobOutcome::kFailed:
      std::cerr << "weir run: job " << job->job_id() << " failed: " << result.status.message()
                << latest << "\n";
      return 1;
  }
  return 1;
}

}  // namespace

Result<JobMain> FindJob(const std::string& job) {
  std::string names;
  for (const auto& b : examples::BundledJobs()) {
    if (b.name == job) return b.main;
    names += (names.empty() ? "" : ", ") + b.name;
  }
  if (job.find('/') == std::string::npos && job.find(".so") == std::string::npos) {
    return Status::NotFound("no bundled job named '" + job + "' (bundled: " + names +
                            "; a job library is given by its path, e.g. ./libmyjob.so)");
  }
  void* handle = dlopen(job.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Status::InvalidArgument("job library " + job + " cannot be loaded: " + dlerror());
  }
  using Entry = JobMain (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "weir_job_main"));
  if (entry == nullptr) {
    return Status::InvalidArgument("job library " + job +
                                   " does not define a job (no WEIR_JOB(...) in it)");
  }
  return entry();  // the library stays loaded for the life of the process
}

void AddRunCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "run a job (a bundled example or a job library)");
  CLI::Option* restore =
      run->add_option("-s,--fromSavepoint", options->restore_path,
                      "resume from this checkpoint or savepoint (its _metadata file, its chk-N "
                      "directory or the savepoint's directory)");
  run->add_option("--config", options->config_file, "YAML configuration file");
  run->add_option("-D", options->assignments, "configuration key=value (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  run->add_option("--restore-mode,--restoreMode,--claimMode", options->restore_mode,
                  "no-claim (default): never touch the restored checkpoint; claim: own it");
  run->add_flag("-n,--allow-non-restored-state,--allowNonRestoredState",
                options->allow_non_restored_state,
                "resume without the checkpoint's state of operators the job no longer has");
  std::string bundled;
  for (const auto& b : examples::BundledJobs()) bundled += (bundled.empty() ? "" : ", ") + b.name;
  run->add_option("job", options->job,
                  "a bundled job (" + bundled +
                      ") or the path to a job library, then the job's own arguments")
      ->required();
  run->prefix_command();
  run->callback([options, &exit_code, run, restore] {
    options->restore_given = restore->count() > 0;
    options->job_args = run->remaining();
    exit_code = Run(*options);
  });
}

}  // namespace weir::cli
