// Worker: one process of a scaled-out job (docs/design.md, "Scale-out"). It holds a lease and
// registers as a member; one member is the leader (the first to create the leader key under its
// lease; the next takes over when that lease ends) and writes the balanced, sticky assignment of
// shards to members. Every worker runs the shards assigned to it that it could claim, hands off
// those assigned elsewhere (a final checkpoint, then it releases them), and stops everything it
// runs the moment its lease is lost. What a shard runs is a ShardJob from the factory: a weir job
// restricted to the shard's key groups, whose every checkpoint passes the fence that records it
// in etcd under the shard's epoch.
//
// One control loop per worker polls etcd every `poll_interval` (no watch stream: a poll is one
// range read per key family, and a takeover is bounded by the lease TTL anyway).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/lease_keeper.h"
#include "cluster/shard_assignment.h"
#include "cluster/shard_registry.h"
#include "cluster/standby_keeper.h"

namespace weir::cluster {

// One shard of the job, run by this process.
class ShardJob {
 public:
  virtual ~ShardJob() = default;
  // Runs the shard until its input ends (OK after its final checkpoint), it is stopped, or it
  // fails; on a thread of its own.
  virtual Status Run() = 0;
  // Graceful handoff: take a final checkpoint (through the fence), then let Run return. Calls
  // `stopping` (on any thread) once that checkpoint is done (or could not be taken) and the run
  // is being cancelled: it starts no checkpoint after that, and the worker releases the shard at
  // once instead of after the cancellation (whatever the run still completes must pass the
  // fence, which the next owner's claim closes).
  virtual void StopWithFinalCheckpoint(std::function<void()> stopping) = 0;
  // Stops now, without a checkpoint (the shard is lost, or the process goes down hard).
  virtual void Cancel() = 0;
  // Whether Run returned because the input ended (not because it was stopped).
  virtual bool finished() const = 0;
  // After Run returned, when this run lost its shard (its lease lapsed, or the fence refused it)
  // and a newer owner has recorded a checkpoint at `recorded_epoch`: nothing will ever restore
  // from what this run wrote, nor from what owners before `recorded_epoch` wrote. Deletes it.
  virtual void DeleteLostRunFiles(int64_t recorded_epoch) = 0;
};

// The job of shard `shard` at `epoch`, to restore from `restore` (its latest checkpoint, if
// any); every checkpoint it completes must pass `fence` first (which records it as the shard's
// latest), and so must every savepoint (checked against the epoch, not recorded).
using CheckpointFence =
    std::function<Status(uint64_t id, const std::string& metadata_path, bool savepoint)>;
using ShardJobFactory = std::function<Result<std::unique_ptr<ShardJob>>(
    int shard, int64_t epoch, const std::optional<ShardCheckpoint>& restore,
    CheckpointFence fence)>;

struct WorkerOptions {
  std::string job;              // the job's name (ShardRegistry's rules)
  std::string member;           // this process's id, unique among the job's workers
  int shards = 1;               // cluster.shards
  std::string checkpoint_root;  // <dir>/<job>/shards
  std::chrono::seconds lease_ttl{5};
  std::chrono::milliseconds poll_interval{200};
  // Where this member keeps its lease id (state.backend.local-recovery; empty: nowhere): a
  // process of the same member restarted within the lease's TTL takes the lease back and keeps
  // its shards. Deleted when the worker stops gracefully.
  std::string lease_file;
  // Deletes what this member's runs of `shard` keep locally across processes (local recovery
  // copies), when no run here will use it: the shard was released without being run again (its
  // former process held it; it is assigned elsewhere now), or this process did not get its
  // former process's lease back (every shard is then claimed anew). Empty: nothing is kept.
  std::function<void(int shard)> discard_local_state;
  // cluster.standby-replicas: how many other members the leader makes standbys of each shard.
  int standby_replicas = 0;
  // Keeps this member's standby copy of a shard at the given checkpoint (standby_copies.h);
  // unset: this member keeps none (the leader may still name it).
  StandbyKeeper::KeepCopy keep_standby_copy;
};

// What a worker sees of the cluster (`weir cluster status`, the REST view).
struct ClusterView {
  int shards = 0;               // fixed at the job's first start
  std::string checkpoint_root;  // where the shards keep their checkpoints
  std::vector<std::string> members;
  std::optional<std::string> leader;
  ShardAssignment assignment;
  ShardStandbys standbys;  // cluster.standby-replicas > 0
  std::vector<ShardState> shards_state;
};
// NotFound if no worker of `job` ever started.
Result<ClusterView> ReadClusterView(EtcdClient& etcd, const std::string& job);

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> Create(EtcdClient& etcd, WorkerOptions options,
                                                ShardJobFactory factory);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Takes a lease, registers, starts the control loop. The first worker of a job records its
  // shard count and checkpoint root in etcd (/weir/<job>/settings); a worker configured
  // otherwise is refused (FailedPrecondition): both are fixed at the job's first start.
  Status Start();
  // Graceful: hands every shard off (final checkpoints, releases), revokes the lease.
  void Stop();
  // As a crash would: shards cancelled, nothing checkpointed or released, the lease left to
  // expire. For tests of a lost process.
  void Kill();
  // Blocks until every shard of the job is finished (bounded input) or `timeout` passes (0:
  // looks once).
  bool WaitUntilJobFinished(std::chrono::milliseconds timeout);

  std::vector<int> running_shards() const;
  // Calls `visit` for every shard run here that has not ended (handing off or not), under the
  // worker's lock: the job stays alive during the call, which must be quick and must not call
  // back into the worker.
  void VisitRunning(const std::function<void(int shard, int64_t epoch, bool handing_off,
                                             ShardJob& job)>& visit) const;
  // The checkpoint id each of this worker's standby copies holds, by shard.
  std::map<int, uint64_t> standby_copies() const {
    return standby_ ? standby_->kept() : std::map<int, uint64_t>{};
  }
  bool leader() const { return leader_; }
  const std::string& member() const { return options_.member; }
  // Shards whose job failed here (restarted from their latest checkpoint by the next claim).
  int shard_failures() const { return shard_failures_; }

 private:
  struct Running {
    int64_t epoch = 0;
    std::thread thread;
    std::atomic<bool> ended{false};
    Status status;
    bool handing_off = false;
    std::chrono::steady_clock::time_point handoff_start;  // when handing_off was set
    bool stopping = false;       // its handoff checkpoint is done: release it now (guarded by mu_)
    bool release_tried = false;  // released before its end (or tried: the end retries)
    bool released_early = false;
    // Last: destroyed first, so that its threads (which may still call back into this run)
    // are joined while the rest of the run is alive.
    std::unique_ptr<ShardJob> job;
  };
  Worker(EtcdClient& etcd, WorkerOptions options, ShardJobFactory factory, ShardRegistry registry);
  void Loop();
  Status Poll();
  Status Register();
  Status LeadIfFree();
  Status Reassign();
  Status RunAssigned(const ShardAssignment& assignment);
  // Points the standby keeper at the latest checkpoints of the shards this member is a standby
  // of and does not run.
  Status KeepStandbys();
  // KIP-441's warmup: a shard that balance would move from a live owner to a member without a
  // current standby copy of it stays where it runs, and that member follows it as a standby
  // until its copy is current (or kMaxWarmup passed); then the shard moves by a handoff that
  // restores from local files. Adds each such member to `standbys`. With mu_ not held.
  Status DeferColdMoves(const ShardAssignment& previous, const std::vector<std::string>& members,
                        ShardAssignment* assignment, ShardStandbys* standbys);
  // After a restart that took the former process's lease back: releases the shards that lease
  // still owns but that are assigned elsewhere (and so not run here), and discards the local
  // copies of every shard not run here (nor followed as a standby).
  Status SettleFormerProcess(const ShardAssignment& assignment);
  // Joins the runs that ended and records each as ended (Settle).
  void ReapEnded();
  // Releases the shards whose runs stopped after their handoff checkpoint, while they are still
  // being cancelled: the next owner need not wait for the cancellation.
  void ReleaseStopping();
  bool AnyStoppingUnreleased() const;  // with mu_ held
  // The handoff of `run`: its final checkpoint, then its release as soon as it is stopping.
  void StartHandoff(Running* run);  // with mu_ held
  // Marks ended shards finished (when their input ended) and releases them; what etcd refused
  // to hear (down, restarting) is tried again at the next poll. A shard left owned by this
  // process but not run would never be claimed by its new owner while this lease lives.
  void SettleEnded();
  // Cancels every run; `lost`: the lease is gone, so each run is kept until its files can be
  // deleted (KeepUntilSuperseded).
  void CancelAll(bool lost);
  // An ended run that lost its shard: its files are deleted once a newer owner has recorded a
  // checkpoint (checked at every poll, DeleteSuperseded); until then the newest recorded
  // checkpoint may be this run's, and the next owner restores from it.
  void KeepUntilSuperseded(int shard, std::unique_ptr<Running> run);
  void DeleteSuperseded();
  std::string Key(const std::string& rest) const { return "/weir/" + options_.job + "/" + rest; }

  EtcdClient& etcd_;
  WorkerOptions options_;
  ShardJobFactory factory_;
  ShardRegistry registry_;
  std::unique_ptr<LeaseKeeper> lease_;
  std::atomic<bool> leader_{false};
  std::atomic<int> shard_failures_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<int, std::unique_ptr<Running>> running_;  // guarded by mu_
  // A shard assigned here is still owned by another worker (set by the loop's thread only).
  bool awaiting_handoff_ = false;
  static constexpr std::chrono::milliseconds kHandoffPollInterval{25};
  // Ended runs not yet released in etcd, by shard (the loop's thread; Stop's after the loop).
  struct Ended {
    int64_t epoch = 0;
    bool finished = false;  // its input ended: mark it finished before releasing it
    bool warned = false;
  };
  std::map<int, Ended> unreleased_;
  // Runs that lost their shard, waiting for a newer owner's checkpoint (the loop's thread).
  struct Lost {
    int shard = 0;
    std::unique_ptr<Running> run;
    std::chrono::steady_clock::time_point give_up;
  };
  std::vector<Lost> lost_;
  bool settle_former_process_ = false;      // set by Register when it took a lease back
  std::unique_ptr<StandbyKeeper> standby_;  // keep_standby_copy set
  std::string published_copies_;            // what etcd holds of standby_->kept() (the loop's)
  // The leader's warmups: shard -> (member it waits for, since when).
  std::map<int, std::pair<std::string, std::chrono::steady_clock::time_point>> warmups_;
  static constexpr std::chrono::seconds kMaxWarmup{120};
  std::thread loop_;
};

}  // namespace weir::cluster
