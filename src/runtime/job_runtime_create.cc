// JobRuntime::Create: everything checked and prepared before a job runs (see job_runtime.h).
#include <cstdlib>
#include <filesystem>

#include "common/clock.h"
#include "common/log.h"
#include "common/random_hex.h"
#include "io/file_systems.h"
#include "runtime/job_runtime.h"
#include "runtime/state_compatibility.h"
#include "state/changelog/changelog_keyed_state_backend.h"
#include "state/changelog/changelog_options.h"
#include "state/rocksdb/local_recovery_copy.h"
#include "state/state_backends.h"

namespace weir {
namespace {

std::string TempDirectory() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

// The job's storage with its state-change log directory: the one its job directory already
// records (a claimed job keeps its log where it is), else, with changelog checkpoints and
// dstl.dfs.base-path set, <base path>/<job id>; else none (the log is written to shared/).
Result<CheckpointStorage> WithChangelogDirectory(const CheckpointStorage& storage,
                                                 const Configuration& config) {
  WEIR_ASSIGN_OR_RETURN(CheckpointStorage with_log, storage.WithRecordedChangelogDir());
  const std::string key(config::kChangelogBasePath.key);
  const std::string configured(config.Get(config::kChangelogBasePath));
  if (!config.Get(config::kChangelogEnabled) || configured.empty()) return with_log;
  auto normalized = NormalizeStoragePath(configured);
  if (!normalized.ok()) return Status::InvalidArgument(key + ": " + normalized.status().message());
  std::string base = *normalized;
  if (!base.starts_with("s3://") && !base.starts_with("/")) {
    base = std::filesystem::absolute(base).lexically_normal().string();
  }
  if (base.starts_with("s3://") != storage.job_dir().starts_with("s3://")) {
    return Status::InvalidArgument(key + ": " + configured + " is not on the file system of " +
                                   std::string(config::kCheckpointsDir.key) + " (" +
                                   storage.job_dir() +
                                   "): the log is kept on the checkpoints' storage");
  }
  const std::string dir = JoinPath(base, BaseName(storage.job_dir()));
  if (Status valid = ValidateChangelogDir(dir); !valid.ok()) {
    return Status::InvalidArgument(key + ": " + valid.message());
  }
  if (!with_log.changelog_dir().empty()) {
    if (with_log.changelog_dir() != dir) {
      LogWarn(key + " is " + configured + ", but the claimed job directory " + storage.job_dir() +
              " keeps its log in " + with_log.changelog_dir() + ": the log stays there");
    }
    return with_log;
  }
  return with_log.WithChangelogDir(dir);
}

}  // namespace

Result<std::unique_ptr<JobRuntime>> JobRuntime::Create(JobGraph graph, const Configuration& config,
                                                       std::shared_ptr<FileSystem> fs,
                                                       const std::string& local_recovery_scope) {
  std::unique_ptr<JobRuntime> job(new JobRuntime());
  WEIR_ASSIGN_OR_RETURN(const std::string checkpoints_dir,
                        NormalizeStoragePath(config.Get(config::kCheckpointsDir)));
  WEIR_ASSIGN_OR_RETURN(const std::string restore_path,
                        NormalizeStoragePath(config.Get(config::kSavepointPath)));
  // The checkpoint directory and the checkpoint to restore may be on different storage (local
  // and S3, say); a file system given by the caller serves both.
  std::shared_ptr<FileSystem> restore_fs = fs;
  job->fs_given_ = fs != nullptr;
  if (!fs) {
    WEIR_ASSIGN_OR_RETURN(
        fs, FileSystemForPath(checkpoints_dir.empty() ? restore_path : checkpoints_dir, config));
    if (!restore_path.empty()) {
      WEIR_ASSIGN_OR_RETURN(restore_fs, FileSystemForPath(restore_path, config));
    }
  }
  WEIR_RETURN_IF_ERROR(CheckStateBackendType(config.Get(config::kBackendType)));
  if (config.Get(config::kUnaligned)) {
    return Status::InvalidArgument(
        std::string(config::kUnaligned.key) +
        ": true is not supported: weir's checkpoints are aligned (exactly-once), or not waited "
        "for at all with execution.checkpointing.mode: AT_LEAST_ONCE");
  }
  const uint64_t in_flight = config.Get(config::kChangelogMaxInFlight).bytes;
  const uint64_t persist_size = config.Get(config::kChangelogPersistSize).bytes;
  if (config.Get(config::kChangelogEnabled) && in_flight < persist_size) {
    return Status::InvalidArgument(
        std::string(config::kChangelogMaxInFlight.key) + " (" + std::to_string(in_flight) +
        " bytes) is below " + std::string(config::kChangelogPersistSize.key) + " (" +
        std::to_string(persist_size) +
        " bytes): tasks would wait for room before the log writes a batch on its own");
  }
  job->fs_ = std::move(fs);
  job->config_ = config;
  WEIR_ASSIGN_OR_RETURN(job->plan_,
                        PlanExecution(graph, static_cast<int>(config.Get(config::kParallelism)),
                                      static_cast<int>(config.Get(config::kMaxParallelism))));
  job->graph_ = std::move(graph);
  job->exactly_once_ = config.Get(config::kMode) == CheckpointingMode::kExactlyOnce;
  job->incremental_ = config.Get(config::kIncremental);

  const int64_t interval = config.Get(config::kInterval).count();
  const bool claim = config.Get(config::kRestoreMode) == RestoreMode::kClaim;
  std::optional<CheckpointPointer> pointer;
  if (!restore_path.empty()) {
    WEIR_ASSIGN_OR_RETURN(pointer, CheckpointStorage::ResolvePointer(*restore_fs, restore_path));
  }
  // Claiming a checkpoint resumes in its job directory; a savepoint is never claimed.
  const bool claims_directory = pointer && claim && !pointer->savepoint;
  // Without state.checkpoints.dir, a job resumed from a checkpoint keeps its checkpoints where that
  // one's job kept them: its own job directory beside the restored one.
  std::string checkpoints_root = checkpoints_dir;
  if (checkpoints_root.empty() && pointer && !pointer->savepoint) {
    checkpoints_root = ParentPath(CheckpointStorage::ForPointer(restore_fs, *pointer).job_dir());
  }
  if (interval > 0 && checkpoints_root.empty() && !claims_directory) {
    return Status::InvalidArgument(std::string(config::kInterval) + " is set but " +
                                   std::string(config::kCheckpointsDir) +
                                   " is not: checkpoints need a directory");
  }

  job->job_id_ = RandomHex(32);
  if (pointer) {
    WEIR_ASSIGN_OR_RETURN(CheckpointMetadata metadata,
                          ReadCheckpointMetadata(*restore_fs, pointer->metadata_path));
    if (pointer->savepoint != IsSavepoint(metadata.kind)) {
      return Status::InvalidArgument(
          pointer->metadata_path + ": holds " + CheckpointKindName(metadata.kind) + " " +
          std::to_string(metadata.checkpoint_id) +
          (pointer->savepoint
               ? ", not a savepoint: a checkpoint is restored from its chk-<N> directory "
                 "inside its job directory"
               : ", which is not a checkpoint of this job directory: a savepoint is restored "
                 "from its own directory"));
    }
    WEIR_RETURN_IF_ERROR(CheckRestoreCompatibility(job->plan_, job->graph_.name, metadata,
                                                   pointer->metadata_path,
                                                   config.Get(config::kAllowNonRestoredState)));
    WEIR_RETURN_IF_ERROR(CheckStateCompatibility(job->graph_, job->plan_, config, job->job_id_,
                                                 metadata, pointer->metadata_path));
    // With the log directory its job directory records (dstl.dfs.base-path), if any.
    WEIR_ASSIGN_OR_RETURN(
        const CheckpointStorage restore_storage,
        CheckpointStorage::ForPointer(restore_fs, *pointer).WithRecordedChangelogDir());
    if (claims_directory) {
      WEIR_ASSIGN_OR_RETURN(std::vector<uint64_t> ids,
                            restore_storage.ListCompletedCheckpointIds());
      if (!ids.empty() && ids.back() != metadata.checkpoint_id) {
        return Status::InvalidArgument(
            "checkpoint " + std::to_string(metadata.checkpoint_id) + " (" + pointer->metadata_path +
            ") is not the latest of its job directory (chk-" + std::to_string(ids.back()) +
            " is): resume from the latest, or use --restore-mode no-claim");
      }
      job->job_id_ = metadata.job_id;
      job->storage_.emplace(restore_storage);
    }
    // A savepoint's files are the user's: never built on (its directory may go at any time).
    // Claim mode only lets the first checkpoint after it be incremental in name (it has no base).
    job->initial_restore_ = RestorePoint{restore_storage, std::move(metadata), claims_directory};
    job->next_is_full_ = !claim;
  }
  if (!job->storage_ && interval > 0) {
    job->storage_.emplace(CheckpointStorage::ForJob(job->fs_, checkpoints_root, job->job_id_));
  }
  if (job->storage_) {
    WEIR_ASSIGN_OR_RETURN(job->storage_, WithChangelogDirectory(*job->storage_, config));
  }
  if (job->storage_) {
    CoordinatorOptions options{job->job_id_, static_cast<int>(config.Get(config::kNumRetained)),
                               job->plan_.OperatorInfos(),
                               static_cast<size_t>(config.Get(config::kStatsHistory))};
    if (job->initial_restore_) {
      options.first_checkpoint_id = job->initial_restore_->metadata.checkpoint_id + 1;
    }
    job->coordinator_ = std::make_unique<CheckpointCoordinator>(*job->storage_, options);
    job->coordinator_->AddListener(job.get());
  }
  CheckpointSchedulerOptions sched;
  sched.interval_ms = interval;
  sched.min_pause_ms = config.Get(config::kMinPause).count();
  sched.timeout_ms = std::max<int64_t>(1, config.Get(config::kTimeout).count());
  sched.max_concurrent = static_cast<int>(config.Get(config::kMaxConcurrent));
  sched.tolerable_failures = static_cast<int>(config.Get(config::kTolerableFailures));
  job->scheduler_ = std::make_unique<CheckpointScheduler>(sched, NowSteadyMs());

  // A fresh, owner-only directory with a name no one can predict: a path someone else created (or
  // linked) beforehand is never used, and nothing outside it is ever deleted with it.
  const std::string local = config.Get(config::kLocalDir);
  WEIR_ASSIGN_OR_RETURN(OwnedDirectory working, OwnedDirectory::CreateWorkingDirectory(
                                                    local.empty() ? TempDirectory() : local,
                                                    "weir-" + job->job_id_.substr(0, 8)));
  job->local_dir_ = working.root();
  job->local_dir_owned_.emplace(std::move(working));
  if (job->storage_ && config.Get(config::kLocalRecovery)) {
    auto dir = CreateLocalRecoveryDirectory(
        local.empty() ? TempDirectory() : local,
        local_recovery_scope.empty() ? job->job_id_ : local_recovery_scope);
    if (dir.ok()) {
      job->local_recovery_dir_ = *dir;
    } else {
      LogWarn(std::string(config::kLocalRecovery) +
              " is off for this job: " + dir.status().ToString());
    }
  }
  job->io_pool_ = std::make_unique<ThreadPool>(
      static_cast<int>(config.Get(config::kTransferThreads)), "weir-io");
  job->async_pool_ = std::make_unique<ThreadPool>(2, "weir-async");
  if (job->storage_ && config.Get(config::kChangelogEnabled)) {
    job->changelog_writer_ =
        ChangelogWriter::Start(*job->storage_, ChangelogWriterOptionsFrom(config));
  }
  return job;
}

}  // namespace weir
