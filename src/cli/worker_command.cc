#include "cli/worker_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <thread>

#include "cli/fail.h"
#include "cli/run_command.h"
#include "cluster/cluster_options.h"
#include "cluster/runtime_shard_job.h"
#include "cluster/standby_copies.h"
#include "cluster/worker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random_hex.h"
#include "state/rocksdb/local_recovery_copy.h"
#include "web/cluster_rest_server.h"
#include "web/rest_json.h"
#include "web/web_options.h"
#include "weir/config.h"

namespace weir::cli {
namespace {

struct WorkerArgs {
  std::string cluster;
  std::string job_name;
  std::string id;
  std::string config_file;
  std::vector<std::string> assignments;
  std::string job;
  std::vector<std::string> job_args;
};

int RunWorker(const WorkerArgs& a) {
  Configuration config;
  if (!a.config_file.empty()) {
    if (Status s = config.LoadYamlFile(a.config_file); !s.ok()) return Fail("worker", s);
  }
  for (const auto& assignment : a.assignments) {
    if (Status s = config.SetFromAssignment(assignment); !s.ok()) return Fail("worker", s);
  }
  // The job's name reaches its operators through the configuration (repartition streams).
  if (const std::string set(config.Get(config::kClusterJob)); !set.empty() && set != a.job_name) {
    return Fail("worker", Status::InvalidArgument(std::string(config::kClusterJob) + " is '" + set +
                                                  "' but --job is '" + a.job_name +
                                                  "': give the job one name"));
  }
  if (Status s = config.Set(config::kClusterJob, a.job_name); !s.ok()) return Fail("worker", s);
  const std::string dir = std::string(config.Get(config::kCheckpointsDir));
  if (dir.empty()) {
    return Fail("worker", Status::InvalidArgument(std::string(config::kCheckpointsDir) +
                                                  " must be set: shards move by checkpoints"));
  }
  const auto ttl = config.Get(config::kClusterLeaseTtl);
  if (ttl < std::chrono::seconds(1) || ttl.count() % 1000 != 0) {
    return Fail("worker", Status::InvalidArgument(std::string(config::kClusterLeaseTtl) +
                                                  " must be whole seconds, at least 1 s"));
  }
  auto job_main = FindJob(a.job);
  if (!job_main.ok()) return Fail("worker", job_main.status());
  auto etcd = cluster::EtcdClient::Create(a.cluster);
  if (!etcd.ok()) return Fail("worker", etcd.status());

  cluster::WorkerOptions options;
  options.job = a.job_name;
  options.member = a.id.empty() ? "worker-" + std::to_string(getpid()) + "-" + RandomHex(6) : a.id;
  options.shards = static_cast<int>(config.Get(config::kClusterShards));
  options.checkpoint_root = dir + "/" + a.job_name + "/shards";
  options.lease_ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  options.standby_replicas = static_cast<int>(config.Get(config::kClusterStandbyReplicas));
  // Standby copies are local recovery copies made ahead of a takeover: the runs must look for
  // them.
  if (options.standby_replicas > 0 && !config.Get(config::kLocalRecovery)) {
    if (Status s = config.Set(config::kLocalRecovery, "true"); !s.ok()) return Fail("worker", s);
  }
  // The local directory of this worker's copies: <local>/weir-local-recovery-<uid>/<scope>-shard-N.
  std::string local = std::string(config.Get(config::kLocalDir));
  if (local.empty()) local = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  // Local recovery copies of a shard outlive a crash of the process only when the restarted
  // process is known to be the same worker: a fixed --id. Standby copies serve this process
  // (its member id) whatever its id.
  std::string local_scope;
  if (config.Get(config::kLocalRecovery)) {
    if (a.id.empty()) {
      if (options.standby_replicas == 0) {
        LogWarn(std::string(config::kLocalRecovery) +
                " needs a fixed --id: a restarted worker gets a new id and cannot keep its "
                "shards");
      } else {
        local_scope = a.job_name + "-" + options.member;
      }
    } else {
      local_scope = a.job_name + "-" + a.id;
      // Beside the worker's local state; the job name and id are checked (identifier grammar)
      // before the worker touches the file.
      options.lease_file = local + "/weir-worker-" + a.job_name + "-" + a.id + ".lease";
    }
  }
  if (!local_scope.empty()) {
    options.discard_local_state = [local, local_scope](int shard) {
      const std::string of = local_scope + "-shard-" + std::to_string(shard);
      if (Status s = DiscardLocalRecoveryDirectory(local, of); !s.ok()) {
        LogWarn("local recovery copies of " + of + " were not deleted: " + s.ToString());
      }
    };
  }
  if (options.standby_replicas > 0 && !local_scope.empty()) {
    options.keep_standby_copy = [local, local_scope, config](
                                    int shard, const cluster::ShardCheckpoint& checkpoint,
                                    const std::atomic<bool>& cancelled) -> Status {
      WEIR_ASSIGN_OR_RETURN(
          const std::string dir,
          CreateLocalRecoveryDirectory(local, local_scope + "-shard-" + std::to_string(shard)));
      return cluster::KeepShardStandbyCopy(config, checkpoint.path, dir, cancelled).status();
    };
  }
  if (options.shards > config.Get(config::kMaxParallelism)) {
    return Fail("worker",
                Status::InvalidArgument(std::string(config::kClusterShards) + " (" +
                                        std::to_string(options.shards) + ") exceeds " +
                                        std::string(config::kMaxParallelism) + " (" +
                                        std::to_string(config.Get(config::kMaxParallelism)) + ")"));
  }
  const JobMain build = *job_main;
  const std::vector<std::string> job_args = a.job_args;
  const std::string root = options.checkpoint_root;
  const int shards = options.shards;
  cluster::ShardJobFactory factory =
      [build, job_args, root, shards, config, local_scope](
          int shard, int64_t epoch, const std::optional<cluster::ShardCheckpoint>& restore,
          cluster::CheckpointFence fence) -> Result<std::unique_ptr<cluster::ShardJob>> {
    std::vector<std::string> args = job_args;
    args.insert(args.end(), {"--shard", std::to_string(shard), "--shards", std::to_string(shards)});
    WEIR_ASSIGN_OR_RETURN(JobGraph graph, build(args));
    WEIR_ASSIGN_OR_RETURN(
        auto job, cluster::RuntimeShardJob::Create(
                      std::move(graph), config, root + "/" + std::to_string(shard), epoch, restore,
                      std::move(fence),
                      local_scope.empty() ? "" : local_scope + "-shard-" + std::to_string(shard)));
    return std::unique_ptr<cluster::ShardJob>(std::move(job));
  };
  // A job that cannot run sharded fails here, before the worker joins: build shard 0's graph.
  {
    std::vector<std::string> args = job_args;
    args.insert(args.end(), {"--shard", "0", "--shards", std::to_string(shards)});
    if (auto graph = build(args); !graph.ok()) {
      return Fail("worker", graph.status().WithContext("job " + a.job + " as shard 0 of " +
                                                       std::to_string(shards)));
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto worker = cluster::Worker::Create(**etcd, options, std::move(factory));
  if (!worker.ok()) return Fail("worker", worker.status());
  if (Status s = (*worker)->Start(); !s.ok()) return Fail("worker", s);
  LogInfo("worker " + options.member + " of job " + options.job + " on " + (*etcd)->endpoint() +
          " (" + std::to_string(shards) + " shards)");
  // The cluster view over HTTP (rest.*): a worker that cannot serve it still works.
  std::unique_ptr<web::ClusterRestServer> rest;
  if (config.Get(config::kRestEnabled)) {
    cluster::Worker* w = worker->get();
    auto local_shards = [w] {
      nlohmann::json shards = nlohmann::json::array();
      const int64_t now = NowUnixMs();
      w->VisitRunning([&](int shard, int64_t epoch, bool handing_off, cluster::ShardJob& job) {
        auto* run = dynamic_cast<cluster::RuntimeShardJob*>(&job);
        if (run == nullptr) return;
        nlohmann::json checkpoints = web::CheckpointsJson(run->runtime(), now);
        checkpoints.erase("history");  // per checkpoint: the shard's own job API has room for it
        shards.push_back({{"shard", shard},
                          {"epoch", epoch},
                          {"handing-off", handing_off},
                          {"job", web::JobJson(run->runtime(), now)},
                          {"checkpoints", std::move(checkpoints)}});
      });
      return shards;
    };
    auto standby_copies = [w] {
      nlohmann::json copies = nlohmann::json::array();
      for (const auto& [shard, id] : w->standby_copies()) {
        copies.push_back({{"shard", shard}, {"checkpoint", id}});
      }
      return copies;
    };
    rest = std::make_unique<web::ClusterRestServer>(
        **etcd, options.job, options.member, std::move(local_shards), std::move(standby_copies));
    const std::string address = config.Get(config::kRestAddress);
    if (Status s = rest->Start(address, static_cast<int>(config.Get(config::kRestPort))); !s.ok()) {
      LogWarn(s.message() + "; the worker runs without it");
      rest.reset();
    } else {
      LogInfo("cluster view at http://" + address + ":" + std::to_string(rest->port()) + "/");
    }
  }
  // Until SIGINT/SIGTERM (hand off, then exit) or the end of every shard's input.
  bool finished = false;
  int sig = 0;
  while (true) {
    timespec wait{0, 500'000'000};
    sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig > 0 && sig != SIGUSR2) break;
    if ((*worker)->WaitUntilJobFinished(std::chrono::milliseconds(0))) {
      finished = true;
      break;
    }
  }
  (*worker)->Stop();
  if (finished) {
    std::cout << "job " << options.job << " finished: every shard's input ended\n";
    return 0;
  }
  std::cout << "worker " << options.member << " stopped; its shards were handed off\n";
  return sig == SIGTERM ? 143 : 130;
}

struct StatusArgs {
  std::string cluster;
  std::string job_name;
};

int RunStatus(const StatusArgs& a) {
  auto etcd = cluster::EtcdClient::Create(a.cluster);
  if (!etcd.ok()) return Fail("cluster status", etcd.status());
  auto view = cluster::ReadClusterView(**etcd, a.job_name);
  if (!view.ok()) return Fail("cluster status", view.status());
  std::cout << "job " << a.job_name << ": " << view->shards << " shards, checkpoints under "
            << view->checkpoint_root << "\n";
  std::cout << "workers (" << view->members.size() << "):";
  for (const auto& m : view->members) {
    std::cout << " " << m << (view->leader == m ? " (leader)" : "");
  }
  std::cout << "\nshard  owner                     epoch  latest checkpoint\n";
  for (const auto& s : view->shards_state) {
    std::string owner = s.owner.value_or(s.finished ? "(finished)" : "(free)");
    std::cout << std::left << std::setw(7) << s.shard << std::setw(26) << owner << std::setw(7)
              << s.epoch
              << (s.checkpoint ? std::to_string(s.checkpoint->id) + " " + s.checkpoint->path
                               : std::string("none"));
    // Last, so that the columns before keep their places for scripts.
    if (const auto it = view->standbys.find(s.shard); it != view->standbys.end()) {
      std::cout << "  standbys:";
      for (const auto& m : it->second) std::cout << " " << m;
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void AddWorkerCommands(CLI::App& app, int& exit_code) {
  auto w = std::make_shared<WorkerArgs>();
  CLI::App* worker =
      app.add_subcommand("worker", "run one process of a job spread over several (etcd, shards)");
  worker->add_option("--cluster", w->cluster, "etcd endpoint, etcd://HOST:PORT")->required();
  worker->add_option("--job", w->job_name, "the job's name, the same for all its workers")
      ->required();
  worker->add_option("--id", w->id, "this worker's id (default: worker-<pid>-<random>)");
  worker->add_option("--config", w->config_file, "YAML configuration file");
  worker->add_option("-D", w->assignments, "configuration key=value (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  worker->add_option("job", w->job, "a bundled job or a job library, then its arguments")
      ->required();
  worker->prefix_command();
  worker->callback([w, &exit_code, worker] {
    w->job_args = worker->remaining();
    exit_code = RunWorker(*w);
  });

  auto st = std::make_shared<StatusArgs>();
  CLI::App* cluster = app.add_subcommand("cluster", "a job spread over several workers");
  cluster->require_subcommand(1);
  CLI::App* status = cluster->add_subcommand("status", "workers, leader and shards of a job");
  status->add_option("--cluster", st->cluster, "etcd endpoint, etcd://HOST:PORT")->required();
  status->add_option("job", st->job_name, "the job's name")->required();
  status->callback([st, &exit_code] { exit_code = RunStatus(*st); });
}

}  // namespace weir::cli
