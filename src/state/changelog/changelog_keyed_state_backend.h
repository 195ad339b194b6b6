// ChangelogKeyedStateBackend: changelog checkpoints for any backend (Flink's changelog state
// backend, FLIP-158). It wraps the backend made for `state.backend.type` (the inner one): every
// write to keyed state goes to the inner backend and is appended to the backend's StateChangelog
// (put, delete, list append, clear, with the current key, its key group and the namespace), which
// the process's ChangelogWriter persists continuously in batches.
//
// A checkpoint's synchronous part records the log's last sequence number; its asynchronous part
// waits until the log is durable up to it. Its handle (kind kChangelog) references the latest
// materialization plus the log segments after it. A materialization is the inner backend's state
// as of a log position, written in the background every
// `state.backend.changelog.periodic-materialize.interval`: an incremental snapshot of the inner
// backend when it supports one (RocksDB: the SSTs that the last confirmed materialization did not
// upload, plus its MANIFEST, CURRENT and OPTIONS, all in shared/), else a key-group stream
// (shared/<backend>-materialization-<N>-<random>.kgs). Once a completed checkpoint references it,
// the log before it is truncated and it is confirmed as the base of the next incremental one (the
// files go when no retained checkpoint references them). An incremental one builds on a confirmed
// base only, so a periodic one that is due starts as soon as a completed checkpoint confirms the
// base (NotifyCheckpointComplete), not at the next checkpoint: then the log a restore replays
// spans about one checkpoint interval at a materialization interval of one, not two. A failed
// materialization is retried at the next checkpoint; only after `max-failures-allowed` failures
// in a row do checkpoints fail.
//
// The first checkpoint after a restore (and a full checkpoint: restore without claim) writes a
// materialization of its own in its asynchronous part: the restored log belongs to the job that
// wrote it, and the new log starts empty. (An incremental one builds on the restored
// materialization when the job owns it.)
//
// Restore (PlanChangelogRestore, ReplayChangelogs): the materializations are restored by the
// inner backend's factory (key-group streams as full snapshots, incremental ones as incremental
// snapshots), then the segments are replayed in order, each change only if its key group is the
// backend's (rescaling works unchanged).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/checkpointable_keyed_state_backend.h"
#include "state/changelog/changelog_writer.h"

namespace weir {

struct ChangelogBackendOptions {
  std::chrono::milliseconds materialize_interval{std::chrono::minutes(10)};
  int max_failures_allowed = 3;
};

// The options of the configuration's changelog keys (changelog_options.h).
ChangelogBackendOptions ChangelogBackendOptionsFrom(const Configuration& config);
ChangelogWriterOptions ChangelogWriterOptionsFrom(const Configuration& config);

// A materialization: its files (none for the empty state at the start; else one key-group
// stream, or an incremental one's native files) and the last change it holds.
struct ChangelogMaterialization {
  std::vector<StateFileHandle> files;
  std::vector<StateMetaInfo> states;  // of an incremental one (a stream names its own)
  uint64_t id = 0;  // an incremental one's: confirmed to the inner backend once referenced
  uint64_t sequence = 0;
};

class ChangelogKeyedStateBackend final : public CheckpointableKeyedStateBackend {
 public:
  // `inner` holds the restored state, if any (`restored`: its first checkpoint materializes).
  // `storage` outlives the backend.
  ChangelogKeyedStateBackend(std::unique_ptr<CheckpointableKeyedStateBackend> inner,
                             std::unique_ptr<StateChangelog> log, const CheckpointStorage& storage,
                             ChangelogBackendOptions options, bool restored);
  ~ChangelogKeyedStateBackend() override;

  // KeyedStateBackend
  const KeyGroupRange& key_group_range() const override { return inner_->key_group_range(); }
  int max_parallelism() const override { return inner_->max_parallelism(); }
  Status SetCurrentKey(std::string_view serialized_key) override;
  int current_key_group() const override { return inner_->current_key_group(); }
  Status ForEachKey(std::string_view state_name, std::string_view serialized_namespace,
                    const std::function<bool(std::string_view key)>& visit) override {
    return inner_->ForEachKey(state_name, serialized_namespace, visit);
  }
  std::vector<StateMetaInfo> RegisteredStates() const override {
    return inner_->RegisteredStates();
  }

  // CheckpointableKeyedStateBackend
  const std::string& backend_id() const override { return inner_->backend_id(); }
  Result<std::unique_ptr<AsyncSnapshotPart>> Snapshot(uint64_t checkpoint_id,
                                                      const CheckpointOptions& options) override;
  using CheckpointableKeyedStateBackend::Snapshot;
  void BarrierForwarded() override { inner_->BarrierForwarded(); }
  Result<std::unique_ptr<StateSnapshotView>> CreateSnapshotView() override {
    return inner_->CreateSnapshotView();
  }
  Status RegisterStates(const std::vector<StateMetaInfo>& states) override {
    return inner_->RegisterStates(states);
  }
  // Rows loaded this way are not in the log: the next checkpoint materializes.
  Result<std::unique_ptr<StateBulkLoader>> NewBulkLoader(
      const std::vector<StateMetaInfo>& states) override;
  // Notifications come on the owner's thread (the task's mailbox, as in Flink): a completion
  // that confirms the base may start the next materialization.
  void NotifyCheckpointComplete(uint64_t checkpoint_id) override;
  void NotifyCheckpointAborted(uint64_t checkpoint_id) override;

  // For tests and metrics: materializations completed so far, and the latest one's sequence.
  uint64_t materializations() const;
  uint64_t materialized_sequence() const;
  const StateChangelog& log() const { return *log_; }

 protected:
  Result<RawKeyedState*> GetOrCreateRawState(const StateMetaInfo& meta) override;
  Status OnTtlStateRegistered(const StateMetaInfo& meta, const StateTtlConfig& ttl) override;

 private:
  class LoggingState;
  using Materialization = ChangelogMaterialization;
  // One being written in the background.
  struct Running;

  // Starts a materialization of the state as of now (owner's thread), numbered `checkpoint_id`
  // for the inner backend; `full`: one that reuses no file of an earlier one (for a full
  // checkpoint). `anchor`: when the interval to the next one starts counting.
  Result<std::shared_ptr<Running>> StartMaterialization(
      uint64_t checkpoint_id, bool full, std::chrono::steady_clock::time_point anchor);
  // A periodic materialization, when one is due and may start now (its base is confirmed).
  void StartDueMaterialization();
  // Takes a finished background materialization: it becomes the base of later checkpoints (or
  // counts as a failure).
  void CollectMaterialization();
  // Whether the inner backend's next incremental materialization builds on base_ (a completed
  // checkpoint referenced it). Only then are the files it reuses safe: every checkpoint
  // references base_ until the new one is collected, and the first that references the new one
  // holds them before the last that references base_ is subsumed. (A materialization built on an
  // older confirmed one would reuse files that the checkpoints on base_ no longer hold.)
  bool BaseConfirmed() const;
  // At the end (the task finished or failed): a materialization still running or not collected
  // is one no checkpoint references, and none ever will; the files it wrote (not those it reuses
  // from the base) are deleted, through the storage's guarded place.
  void DiscardUnreferencedMaterialization();
  // A materialization superseded while it runs, which no checkpoint references: the files it
  // wrote are deleted once it ends (InBackground).
  void Discard(const Running& superseded);
  // Runs `work` (deletions of files no checkpoint references) on a thread of its own: a delete
  // can be a network request, and the backend's calls run on the task's thread (in a
  // checkpoint's synchronous part). Joined when the backend goes.
  struct Background;
  void InBackground(std::function<void()> work);

  std::unique_ptr<CheckpointableKeyedStateBackend> inner_;
  std::shared_ptr<StateChangelog> log_;  // shared with asynchronous parts
  const CheckpointStorage& storage_;
  const ChangelogBackendOptions options_;
  std::vector<std::unique_ptr<LoggingState>> states_;
  std::string current_key_;
  int current_key_group_ = 0;  // the inner backend's for current_key_ (a change logs it)
  bool materialize_next_;      // the log does not hold all state since the base
  std::shared_ptr<const Materialization> base_;
  // Whether a checkpoint took base_ (false for one collected by a checkpoint that has a
  // materialization of its own), and the files base_ wrote (not those it reuses).
  bool base_referenced_ = true;
  std::vector<std::string> base_written_;
  std::chrono::steady_clock::time_point last_materialization_;
  // The latest checkpoint's synchronous part: its id and time. A materialization started when a
  // checkpoint's completion confirms the base is numbered and timed as of it.
  uint64_t last_checkpoint_id_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_time_;
  uint64_t last_inner_snapshot_id_ = 0;  // the inner backend's latest (materialization, savepoint)
  std::shared_ptr<Running> running_;     // the background materialization, if any
  // Incremental ones a full checkpoint superseded while they ran: never a base (those no
  // checkpoint references are discarded); dropped once they end.
  std::vector<std::shared_ptr<Running>> superseded_;
  std::vector<std::unique_ptr<Background>> background_;
  int failures_ = 0;
  Status last_failure_;
  uint64_t last_checkpoint_sequence_ = 0;  // for checkpointed_bytes

  // Shared with asynchronous parts, which run on other threads.
  struct Shared {
    std::mutex mu;
    struct Pending {
      uint64_t base_sequence = 0;    // the last change its base holds
      uint64_t materialization = 0;  // its base's id, when incremental
    };
    std::map<uint64_t, Pending> pending;     // by checkpoint
    uint64_t confirmed_materialization = 0;  // the newest one a completed checkpoint references
    uint64_t materializations = 0;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

// A restore of changelog handles: their materializations are restored by the inner backend's
// factory as the full snapshots they are (with the other handles, which are not changelog
// ones), then their segments are replayed into it.
struct ChangelogRestorePlan {
  KeyedStateRestore inner;                   // what the inner backend's factory restores
  std::vector<KeyedStateHandle> changelogs;  // whose segments are replayed afterwards
  // How many changes their segments hold past their materializations (of all key groups;
  // saturating): a hint for the backend replayed into (changes_to_replay).
  uint64_t changes = 0;
};
Result<ChangelogRestorePlan> PlanChangelogRestore(const KeyedStateRestore& restore);
// What a replay applied: changes (of the backend's key groups) and the segments' bytes read.
struct ChangelogReplayed {
  uint64_t changes = 0;
  uint64_t bytes = 0;
};
// Replays the segments of `changelogs` into `backend`, in order, keeping the changes of key
// groups in its range.
Result<ChangelogReplayed> ReplayChangelogs(const CheckpointStorage& storage, uint64_t checkpoint_id,
                                           const std::vector<KeyedStateHandle>& changelogs,
                                           CheckpointableKeyedStateBackend& backend);

}  // namespace weir
