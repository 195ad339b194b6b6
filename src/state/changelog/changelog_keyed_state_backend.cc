#include "state/changelog/changelog_keyed_state_backend.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "common/checksum.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/random_hex.h"
#include "snapshot/full_snapshot_strategy.h"
#include "snapshot/key_group_stream.h"
#include "state/changelog/changelog_options.h"
#include "state/ttl_snapshot_view.h"

namespace weir {

// The protected parts of a backend that the changelog backend reaches into: the inner backend's
// raw states (what is logged wraps them) and where it cleans expired values up.
class ChangelogAccess {
 public:
  static Result<RawKeyedState*> GetOrCreateRawState(KeyedStateBackend& b,
                                                    const StateMetaInfo& meta) {
    return b.GetOrCreateRawState(meta);
  }
  static Status OnTtlStateRegistered(KeyedStateBackend& b, const StateMetaInfo& meta,
                                     const StateTtlConfig& ttl) {
    return b.OnTtlStateRegistered(meta, ttl);
  }
};

namespace {

// Writes `view` as a key-group stream to shared/ (the file of a materialization).
Result<StateFileHandle> WriteMaterialization(const CheckpointStorage& storage,
                                             const StateSnapshotView& view,
                                             const std::string& backend_id, int max_parallelism,
                                             KeyGroupRange range, uint64_t checkpoint_id) {
  const std::string relative = std::string(kSharedDirName) + "/" + backend_id +
                               "-materialization-" + std::to_string(checkpoint_id) + "-" +
                               RandomHex(16) + ".kgs";
  auto written = WriteKeyGroupStreamFile(
      storage, view, max_parallelism, range, relative, storage.SharedDir(),
      [&] { return storage.fs().CreateDirs(storage.SharedDir()); }, "changelog.materialize");
  if (!written.ok()) {
    return written.status().WithContext("materialization of backend " + backend_id);
  }
  WEIR_FAILPOINT("changelog.after_materialize");
  StateFileHandle h;
  h.path = relative;
  h.size = written->size;
  h.checksum = written->checksum;
  h.role = StateFileRole::kMaterialization;
  h.written_by_checkpoint = 0;  // written outside any checkpoint
  return h;
}

}  // namespace

ChangelogBackendOptions ChangelogBackendOptionsFrom(const Configuration& config) {
  ChangelogBackendOptions o;
  o.materialize_interval = config.Get(config::kChangelogMaterializeInterval);
  o.max_failures_allowed = static_cast<int>(config.Get(config::kChangelogMaxFailures));
  return o;
}

ChangelogWriterOptions ChangelogWriterOptionsFrom(const Configuration& config) {
  ChangelogWriterOptions o;
  o.persist_delay = config.Get(config::kChangelogPersistDelay);
  o.persist_size_threshold = config.Get(config::kChangelogPersistSize).bytes;
  o.max_in_flight = config.Get(config::kChangelogMaxInFlight).bytes;
  o.compression = config.Get(config::kChangelogCompression) ? ChangelogCompression::kLz4
                                                            : ChangelogCompression::kNone;
  o.upload_threads = static_cast<int>(config.Get(config::kChangelogUploadThreads));
  o.retry.max_attempts = config.Get(config::kChangelogRetryPolicy) == ChangelogRetryPolicy::kNone
                             ? 1
                             : static_cast<int>(config.Get(config::kChangelogMaxAttempts));
  return o;
}

// --- the logging view of one state

class ChangelogKeyedStateBackend::LoggingState final : public RawKeyedState {
 public:
  LoggingState(ChangelogKeyedStateBackend* backend, RawKeyedState* inner, uint32_t id)
      : backend_(backend), inner_(inner), id_(id) {}

  RawKeyedState* inner() const { return inner_; }
  const StateMetaInfo& meta() const override { return inner_->meta(); }
  void SetCurrentNamespace(std::string_view ns) override {
    inner_->SetCurrentNamespace(ns);
    ns_.assign(ns);
  }
  Result<std::optional<std::string>> Get(std::string_view user_key) override {
    return inner_->Get(user_key);
  }
  Status Put(std::string_view user_key, std::string_view value) override {
    WEIR_RETURN_IF_ERROR(inner_->Put(user_key, value));
    Log(StateChangeOp::kPut, user_key, value);
    return Status::OK();
  }
  Status Append(std::string_view operand) override {
    WEIR_RETURN_IF_ERROR(inner_->Append(operand));
    Log(StateChangeOp::kAppend, {}, operand);
    return Status::OK();
  }
  Status Delete(std::string_view user_key) override {
    WEIR_RETURN_IF_ERROR(inner_->Delete(user_key));
    Log(StateChangeOp::kDelete, user_key, {});
    return Status::OK();
  }
  Status Clear() override {
    WEIR_RETURN_IF_ERROR(inner_->Clear());
    Log(StateChangeOp::kClear, {}, {});
    return Status::OK();
  }
  Status ForEachRow(const std::function<bool(std::string_view, std::string_view)>& visit) override {
    return inner_->ForEachRow(visit);
  }

 private:
  void Log(StateChangeOp op, std::string_view user_key, std::string_view value) {
    backend_->log_->Append(op, id_, backend_->current_key_group_, backend_->current_key_, ns_,
                           user_key, value);
  }

  ChangelogKeyedStateBackend* backend_;
  RawKeyedState* inner_;
  const uint32_t id_;
  std::string ns_;
};

// --- materializations

struct ChangelogKeyedStateBackend::Running {
  uint64_t sequence = 0;      // the last change the materialization holds
  uint64_t id = 0;            // an incremental one's
  bool reuses_files = false;  // an incremental one built on an earlier one
  bool referenced = false;    // by a checkpoint that waits for it (its own materialization)
  // What it started on: the files it reuses are the base's, the others it wrote.
  std::shared_ptr<const Materialization> base;
  std::shared_future<Result<std::shared_ptr<const Materialization>>> result;
  std::thread thread;
  ~Running() {
    if (thread.joinable()) thread.join();
  }
};

struct ChangelogKeyedStateBackend::Background {
  std::thread thread;
  std::atomic<bool> done{false};
  ~Background() {
    if (thread.joinable()) thread.join();
  }
};

namespace {

// The files `made` wrote: not those it reuses from `base`.
std::vector<std::string> WrittenFiles(const ChangelogMaterialization& made,
                                      const ChangelogMaterialization* base) {
  std::set<std::string> reused;
  if (base) {
    for (const auto& f : base->files) reused.insert(f.path);
  }
  std::vector<std::string> written;
  for (const auto& f : made.files) {
    if (reused.count(f.path) == 0) written.push_back(f.path);
  }
  return written;
}

// Deletes a materialization's files that no checkpoint references, through the storage's guarded
// place; one that cannot be deleted is left for `weir checkpoints gc`.
void DeleteUnreferenced(const CheckpointStorage& storage, const std::string& backend_id,
                        const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    const Status s = storage.DeleteStateFile(path);
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      LogWarn("backend " + backend_id + ": unreferenced materialization file " + path +
              " not deleted (left for weir checkpoints gc): " + s.ToString());
    }
  }
}

}  // namespace

ChangelogKeyedStateBackend::ChangelogKeyedStateBackend(
    std::unique_ptr<CheckpointableKeyedStateBackend> inner, std::unique_ptr<StateChangelog> log,
    const CheckpointStorage& storage, ChangelogBackendOptions options, bool restored)
    : inner_(std::move(inner)),
      log_(std::move(log)),
      storage_(storage),
      options_(options),
      materialize_next_(restored),
      last_materialization_(std::chrono::steady_clock::now()) {
  // A new backend's state is empty: the log from its first change holds all of it.
  if (!restored) base_ = std::make_shared<const Materialization>();
}

ChangelogKeyedStateBackend::~ChangelogKeyedStateBackend() {
  DiscardUnreferencedMaterialization();
  // Joins the materializations still running: they read the inner backend.
  running_.reset();
  superseded_.clear();
  background_.clear();
}

void ChangelogKeyedStateBackend::DiscardUnreferencedMaterialization() {
  // A base that no checkpoint took (collected by one with a materialization of its own).
  if (!base_referenced_) DeleteUnreferenced(storage_, backend_id(), base_written_);
  if (!running_ || running_->referenced) return;
  if (running_->thread.joinable()) running_->thread.join();
  const Result<std::shared_ptr<const Materialization>>& result = running_->result.get();
  if (!result.ok()) return;
  DeleteUnreferenced(storage_, backend_id(), WrittenFiles(**result, running_->base.get()));
}

void ChangelogKeyedStateBackend::InBackground(std::function<void()> work) {
  auto b = std::make_unique<Background>();
  Background* raw = b.get();
  raw->thread = std::thread([raw, work = std::move(work)] {
    work();
    raw->done = true;
  });
  background_.push_back(std::move(b));
}

void ChangelogKeyedStateBackend::Discard(const Running& superseded) {
  // It waits for the materialization to end (on its own copy of the future: one object is not
  // for two threads).
  InBackground(
      [result = superseded.result, base = superseded.base, &storage = storage_, id = backend_id()] {
        const Result<std::shared_ptr<const Materialization>>& made = result.get();
        if (made.ok()) DeleteUnreferenced(storage, id, WrittenFiles(**made, base.get()));
      });
}

Status ChangelogKeyedStateBackend::SetCurrentKey(std::string_view serialized_key) {
  WEIR_RETURN_IF_ERROR(inner_->SetCurrentKey(serialized_key));
  current_key_.assign(serialized_key);
  current_key_group_ = inner_->current_key_group();
  return Status::OK();
}

Result<RawKeyedState*> ChangelogKeyedStateBackend::GetOrCreateRawState(const StateMetaInfo& meta) {
  WEIR_ASSIGN_OR_RETURN(RawKeyedState * raw, ChangelogAccess::GetOrCreateRawState(*inner_, meta));
  for (const auto& s : states_) {
    if (s->inner() == raw) return s.get();
  }
  states_.push_back(std::make_unique<LoggingState>(this, raw, log_->StateId(meta.name)));
  return states_.back().get();
}

Status ChangelogKeyedStateBackend::OnTtlStateRegistered(const StateMetaInfo& meta,
                                                        const StateTtlConfig& ttl) {
  inner_->SetTtlTimeProvider(ttl_time_provider());  // its compaction filter reads this clock
  return ChangelogAccess::OnTtlStateRegistered(*inner_, meta, ttl);
}

Result<std::unique_ptr<StateBulkLoader>> ChangelogKeyedStateBackend::NewBulkLoader(
    const std::vector<StateMetaInfo>& states) {
  materialize_next_ = true;
  return inner_->NewBulkLoader(states);
}

Result<std::shared_ptr<ChangelogKeyedStateBackend::Running>>
ChangelogKeyedStateBackend::StartMaterialization(uint64_t checkpoint_id, bool full,
                                                 std::chrono::steady_clock::time_point anchor) {
  using Made = Result<std::shared_ptr<const Materialization>>;
  auto running = std::make_shared<Running>();
  running->sequence = log_->last_sequence();
  running->base = base_;
  std::promise<Made> promise;
  running->result = promise.get_future().share();
  if (inner_->SupportsIncrementalMaterialization()) {
    // The inner backend's own incremental snapshot, numbered by the checkpoint it starts at
    // (the inner backend snapshots no checkpoint of its own under a changelog backend).
    WEIR_ASSIGN_OR_RETURN(
        std::unique_ptr<AsyncSnapshotPart> part,
        inner_->Snapshot(checkpoint_id, CheckpointOptions::Materialization(/*reuse_files=*/!full)));
    running->id = checkpoint_id;
    running->reuses_files = !full;
    last_inner_snapshot_id_ = std::max(last_inner_snapshot_id_, checkpoint_id);
    running->thread = std::thread([promise = std::move(promise), part = std::move(part),
                                   sequence = running->sequence, checkpoint_id]() mutable {
      promise.set_value([&]() -> Made {
        WEIR_FAILPOINT("changelog.materialize");
        WEIR_ASSIGN_OR_RETURN(KeyedStateHandle h, part->Run());
        WEIR_FAILPOINT("changelog.after_materialize");
        auto m = std::make_shared<Materialization>();
        m->files = std::move(h.files);
        m->states = std::move(h.states);
        m->id = checkpoint_id;
        m->sequence = sequence;
        return std::shared_ptr<const Materialization>(std::move(m));
      }());
    });
  } else {
    WEIR_ASSIGN_OR_RETURN(auto view, inner_->CreateSnapshotView());
    // Expired values as of now stay out of it, as out of a full snapshot.
    view = WithoutExpiredState(std::move(view), ttl_configs(),
                               ttl_time_provider()->CurrentTimestamp());
    std::shared_ptr<StateSnapshotView> shared_view(std::move(view));
    running->thread =
        std::thread([promise = std::move(promise), shared_view, &storage = storage_, checkpoint_id,
                     id = backend_id(), maxp = max_parallelism(), range = key_group_range(),
                     sequence = running->sequence]() mutable {
          promise.set_value([&]() -> Made {
            WEIR_ASSIGN_OR_RETURN(
                StateFileHandle file,
                WriteMaterialization(storage, *shared_view, id, maxp, range, checkpoint_id));
            auto m = std::make_shared<Materialization>();
            m->files.push_back(std::move(file));
            m->sequence = sequence;
            return std::shared_ptr<const Materialization>(std::move(m));
          }());
        });
  }
  last_materialization_ = anchor;
  return running;
}

bool ChangelogKeyedStateBackend::BaseConfirmed() const {
  if (!inner_->SupportsIncrementalMaterialization() || !base_ || base_->id == 0) return true;
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->confirmed_materialization >= base_->id;
}

void ChangelogKeyedStateBackend::CollectMaterialization() {
  std::erase_if(superseded_, [](const std::shared_ptr<Running>& r) {
    return r->result.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  std::erase_if(background_, [](const std::unique_ptr<Background>& b) { return b->done.load(); });
  if (!running_) return;
  if (running_->result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  Result<std::shared_ptr<const Materialization>> result = running_->result.get();
  const std::shared_ptr<Running> collected = std::move(running_);
  if (!result.ok()) {
    ++failures_;
    last_failure_ = result.status();
    return;
  }
  // The base it replaces, if no checkpoint took it (this one was collected by a checkpoint with
  // a materialization of its own, a full one): nothing references what it wrote, and nothing
  // will (none builds on a base no completed checkpoint confirmed).
  if (!base_referenced_ && !base_written_.empty()) {
    InBackground([paths = std::move(base_written_), &storage = storage_, id = backend_id()] {
      DeleteUnreferenced(storage, id, paths);
    });
  }
  base_written_ = WrittenFiles(**result, collected->base.get());
  base_referenced_ = collected->referenced;
  base_ = *result;
  materialize_next_ = false;
  failures_ = 0;
  std::lock_guard<std::mutex> lock(shared_->mu);
  ++shared_->materializations;
}

namespace {

// A changelog checkpoint's asynchronous part: waits for its base (a materialization still being
// written, for the first checkpoint after a restore) and for the log to be durable up to the
// synchronous part's position, then names the files.
class ChangelogAsyncPart final : public AsyncSnapshotPart {
 public:
  using Base = std::function<Result<std::shared_ptr<const ChangelogMaterialization>>()>;
  ChangelogAsyncPart(Base base, std::shared_future<Status> persisted,
                     std::shared_ptr<const StateChangelog> log, KeyedStateHandle handle,
                     uint64_t previous_sequence)
      : base_(std::move(base)),
        persisted_(std::move(persisted)),
        log_(std::move(log)),
        handle_(std::move(handle)),
        previous_sequence_(previous_sequence) {}

  Result<KeyedStateHandle> Run() override {
    const std::string what = "changelog snapshot of backend " + handle_.backend_id;
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const ChangelogMaterialization> base, base_());
    WEIR_RETURN_IF_ERROR(persisted_.get().WithContext(what));
    WEIR_FAILPOINT("changelog.checkpoint_persisted");
    KeyedStateHandle h = std::move(handle_);
    h.materialized_sequence = base->sequence;  // at most changelog_sequence: taken before it
    for (const auto& f : base->files) {
      h.files.push_back(f);
      h.full_bytes += f.size;
    }
    h.materialization_states = base->states;
    WEIR_ASSIGN_OR_RETURN(auto segments, log_->Segments(base->sequence, h.changelog_sequence));
    std::set<std::string> files;
    for (const auto& s : segments) {
      if (files.insert(s.file.path).second) {
        StateFileHandle f = s.file;
        f.written_by_checkpoint = 0;
        h.files.push_back(std::move(f));
      }
      h.changelog.push_back({s.file.path, s.offset, s.length, s.first_sequence, s.last_sequence});
      h.full_bytes += s.length;
      if (s.last_sequence > previous_sequence_) h.checkpointed_bytes += s.length;
    }
    return h;
  }

 private:
  Base base_;
  std::shared_future<Status> persisted_;
  std::shared_ptr<const StateChangelog> log_;
  KeyedStateHandle handle_;
  uint64_t previous_sequence_;
};

}  // namespace

Result<std::unique_ptr<AsyncSnapshotPart>> ChangelogKeyedStateBackend::Snapshot(
    uint64_t checkpoint_id, const CheckpointOptions& options) {
  // A savepoint is self-contained: the inner backend's own format.
  if (options.is_savepoint()) {
    last_inner_snapshot_id_ = std::max(last_inner_snapshot_id_, checkpoint_id);
    return inner_->Snapshot(checkpoint_id, options);
  }
  const auto now = std::chrono::steady_clock::now();
  last_checkpoint_id_ = std::max(last_checkpoint_id_, checkpoint_id);
  last_checkpoint_time_ = now;
  CollectMaterialization();
  if (failures_ > options_.max_failures_allowed) {
    const Status s = last_failure_.WithContext(
        "backend " + backend_id() + ": " + std::to_string(failures_) +
        " materializations failed in a row (state.backend.changelog.max-failures-allowed is " +
        std::to_string(options_.max_failures_allowed) + ")");
    if (!running_) {
      WEIR_ASSIGN_OR_RETURN(running_, StartMaterialization(checkpoint_id, !BaseConfirmed(), now));
    }
    return s;
  }
  // A full checkpoint references nothing written before it: a materialization of its own.
  const bool own_materialization =
      materialize_next_ || options.type == CheckpointOptions::Type::kFullCheckpoint;
  const bool full = options.type == CheckpointOptions::Type::kFullCheckpoint;
  if (full && running_ && running_->reuses_files) {
    // Built on files of earlier checkpoints: not a base this checkpoint may reference, nor any
    // later one. Unless a checkpoint still in flight references it (as its own), what it writes
    // is deleted once it ends.
    if (!running_->referenced) Discard(*running_);
    superseded_.push_back(std::move(running_));
  }
  // A periodic one waits for its base's confirmation (StartDueMaterialization starts it then);
  // one this checkpoint needs reuses nothing on an unconfirmed base.
  const bool confirmed = BaseConfirmed();
  const bool due = failures_ > 0 || now - last_materialization_ >= options_.materialize_interval;
  if (!running_ && (own_materialization || (due && confirmed))) {
    WEIR_ASSIGN_OR_RETURN(running_, StartMaterialization(checkpoint_id, full || !confirmed, now));
  }
  ChangelogAsyncPart::Base base;
  if (own_materialization) {
    running_->referenced = true;
    base = [running = running_]() { return running->result.get(); };
  } else {
    base = [m = base_]() -> Result<std::shared_ptr<const Materialization>> { return m; };
    base_referenced_ = true;
  }
  const uint64_t sequence = log_->last_sequence();
  KeyedStateHandle h;
  h.backend_id = backend_id();
  h.max_parallelism = max_parallelism();
  h.key_group_range = key_group_range();
  h.kind = BackendSnapshotKind::kChangelog;
  h.states = RegisteredStates();
  h.changelog_sequence = sequence;
  const uint64_t previous = last_checkpoint_sequence_;
  last_checkpoint_sequence_ = sequence;
  {
    // Known now, not when the asynchronous part ends: a checkpoint that completes meanwhile
    // must not truncate the changes this one still reads (concurrent checkpoints).
    std::lock_guard<std::mutex> lock(shared_->mu);
    // An own materialization's id is the one it will have (incremental ones are numbered by
    // the checkpoint they start at; only they are confirmed).
    shared_->pending[checkpoint_id] = own_materialization
                                          ? Shared::Pending{running_->sequence, running_->id}
                                          : Shared::Pending{base_->sequence, base_->id};
  }
  // The part may outlive the backend: it keeps what it uses.
  return std::unique_ptr<AsyncSnapshotPart>(new ChangelogAsyncPart(
      std::move(base), log_->Persist(sequence), log_, std::move(h), previous));
}

void ChangelogKeyedStateBackend::NotifyCheckpointComplete(uint64_t checkpoint_id) {
  uint64_t confirm = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto it = shared_->pending.find(checkpoint_id);
    if (it != shared_->pending.end()) {
      // A completed checkpoint holds the changes up to its base in the materialization; the
      // checkpoints after it still in flight may rest on an older base and read from there.
      uint64_t upto = it->second.base_sequence;
      for (auto later = std::next(it); later != shared_->pending.end(); ++later) {
        upto = std::min(upto, later->second.base_sequence);
      }
      (void)Failpoints::Instance().Hit("changelog.truncate");  // crash tests only
      log_->Truncate(upto);
      if (it->second.materialization > shared_->confirmed_materialization) {
        confirm = shared_->confirmed_materialization = it->second.materialization;
      }
      shared_->pending.erase(shared_->pending.begin(), std::next(it));
    }
  }
  // The inner backend hears of materializations only (it snapshots no checkpoint here): one
  // that a completed checkpoint references is the base of its next incremental one; one never
  // referenced is never built on.
  if (confirm != 0) inner_->NotifyCheckpointComplete(confirm);
  StartDueMaterialization();
}

void ChangelogKeyedStateBackend::StartDueMaterialization() {
  // A finished one is left for the next checkpoint to collect: collected here, it would be a
  // base no checkpoint referenced yet (its files orphans if the task ended now), and an
  // incremental one after it could not start before a checkpoint confirmed it anyway.
  // Numbered by the latest checkpoint, which the inner backend must not have snapshotted yet
  // (ids of its snapshots increase); timed as of it, so that at a materialization interval of
  // one checkpoint interval the next completion finds the next one due.
  if (running_ || materialize_next_ || failures_ > 0 || last_checkpoint_id_ == 0 ||
      last_checkpoint_id_ <= last_inner_snapshot_id_ || !BaseConfirmed() ||
      std::chrono::steady_clock::now() - last_materialization_ < options_.materialize_interval) {
    return;
  }
  auto started = StartMaterialization(last_checkpoint_id_, /*full=*/false, last_checkpoint_time_);
  if (started.ok()) {
    running_ = *std::move(started);
    return;
  }
  // As a failed materialization: the next checkpoint retries, and fails after too many.
  ++failures_;
  last_failure_ = started.status();
}

void ChangelogKeyedStateBackend::NotifyCheckpointAborted(uint64_t checkpoint_id) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->pending.erase(checkpoint_id);
}

uint64_t ChangelogKeyedStateBackend::materializations() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->materializations;
}

uint64_t ChangelogKeyedStateBackend::materialized_sequence() const {
  return base_ ? base_->sequence : 0;
}

// --- restore

Result<ChangelogRestorePlan> PlanChangelogRestore(const KeyedStateRestore& restore) {
  ChangelogRestorePlan plan;
  plan.inner = restore;
  plan.inner.handles.clear();
  for (const auto& h : restore.handles) {
    if (h.kind != BackendSnapshotKind::kChangelog) {
      plan.inner.handles.push_back(h);
      continue;
    }
    plan.changelogs.push_back(h);
    for (const auto& seg : h.changelog) {
      const uint64_t first = std::max(seg.first_sequence, h.materialized_sequence + 1);
      const uint64_t last = std::min(seg.last_sequence, h.changelog_sequence);
      if (last < first) continue;
      constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
      const uint64_t n = last - first + 1;  // 0 only when it wrapped: every sequence
      plan.changes = n == 0 || plan.changes > kMax - n ? kMax : plan.changes + n;
    }
    // An incremental materialization: the inner backend's native files, restored as the
    // incremental snapshot they are (its private files under their RocksDB names).
    KeyedStateHandle native;
    native.backend_id = h.backend_id;
    native.max_parallelism = h.max_parallelism;
    native.key_group_range = h.key_group_range;
    native.kind = BackendSnapshotKind::kIncremental;
    native.states = h.materialization_states;
    for (const auto& f : h.files) {
      const bool native_private =
          f.role == StateFileRole::kMaterialization && !f.local_name.empty();
      if (f.role != StateFileRole::kShared && !native_private) continue;
      StateFileHandle file = f;
      if (native_private) file.role = StateFileRole::kPrivate;
      native.full_bytes += f.size;
      native.files.push_back(std::move(file));
    }
    if (!native.files.empty()) {
      native.checkpointed_bytes = native.full_bytes;
      plan.inner.handles.push_back(std::move(native));
      continue;
    }
    for (const auto& f : h.files) {
      if (f.role != StateFileRole::kMaterialization) continue;
      // Loaded as the full snapshot it is; its states are those of its own header (the handle
      // names every state registered by the checkpoint, some perhaps after it).
      WEIR_ASSIGN_OR_RETURN(const std::string path, restore.storage->ResolveRelative(f.path));
      WEIR_ASSIGN_OR_RETURN(auto readable, restore.storage->fs().NewReadableFile(path));
      WEIR_ASSIGN_OR_RETURN(auto reader, KeyGroupStreamReader::Open(std::move(readable), f.path));
      KeyedStateHandle full;
      full.backend_id = h.backend_id;
      full.max_parallelism = h.max_parallelism;
      full.key_group_range = h.key_group_range;
      full.kind = BackendSnapshotKind::kFull;
      full.states = reader->header().states;
      full.checkpointed_bytes = full.full_bytes = f.size;
      StateFileHandle file = f;
      file.role = StateFileRole::kFullSnapshot;
      full.files.push_back(std::move(file));
      plan.inner.handles.push_back(std::move(full));
    }
  }
  return plan;
}

Result<ChangelogReplayed> ReplayChangelogs(const CheckpointStorage& storage, uint64_t checkpoint_id,
                                           const std::vector<KeyedStateHandle>& changelogs,
                                           CheckpointableKeyedStateBackend& backend) {
  const KeyGroupRange range = backend.key_group_range();
  ChangelogReplayed replayed;
  std::map<std::string, RawKeyedState*> raw;  // by state name
  for (const auto& h : changelogs) {
    const std::string what =
        "checkpoint " + std::to_string(checkpoint_id) + ": changelog of backend " + h.backend_id;
    for (const auto& meta : h.states) {
      WEIR_ASSIGN_OR_RETURN(raw[meta.name], ChangelogAccess::GetOrCreateRawState(backend, meta));
    }
    // A backend has one chunk per log file: each file is read (and checked whole) once here and
    // dropped after its segment, so memory holds one file at a time.
    for (const auto& seg : h.changelog) {
      auto file = std::find_if(h.files.begin(), h.files.end(),
                               [&](const StateFileHandle& f) { return f.path == seg.path; });
      if (file == h.files.end()) return Status::Corruption(what + ": no file " + seg.path);
      WEIR_ASSIGN_OR_RETURN(const std::string path, storage.ResolveRelative(seg.path));
      auto read = storage.fs().ReadFileToString(path);
      if (!read.ok()) return read.status().WithContext(what + ": file " + seg.path);
      const std::string& bytes = *read;
      if (bytes.size() != file->size || Hash64(bytes) != file->checksum) {
        return Status::Corruption(what + ": file " + seg.path +
                                  " does not match its size and checksum");
      }
      if (seg.offset > bytes.size() || seg.length > bytes.size() - seg.offset) {
        return Status::Corruption(what + ": segment past the end of " + seg.path);
      }
      std::string_view in(bytes.data() + seg.offset, seg.length);
      replayed.bytes += seg.length;
      WEIR_ASSIGN_OR_RETURN(ChangelogChunk chunk, DecodeChangelogChunk(&in));
      if (chunk.backend_id != h.backend_id || chunk.first_sequence != seg.first_sequence ||
          chunk.count == 0 || chunk.last_sequence() != seg.last_sequence) {
        return Status::Corruption(what + ": the chunk at " + std::to_string(seg.offset) + " of " +
                                  seg.path + " is not the segment the checkpoint names");
      }
      std::map<uint32_t, RawKeyedState*> by_id;
      for (const auto& [id, name] : chunk.states) {
        auto r = raw.find(name);
        if (r == raw.end()) {
          return Status::Corruption(what + ": changes of state '" + name +
                                    "', which the checkpoint does not name");
        }
        by_id[id] = r->second;
      }
      uint64_t sequence = chunk.first_sequence;
      // The key set last (a view of `bytes`): a record usually changes several states of a key.
      std::optional<std::string_view> current_key;
      WEIR_RETURN_IF_ERROR(ForEachStateChange(chunk, [&](const StateChange& c) -> Status {
        const uint64_t s = sequence++;
        if (s <= h.materialized_sequence || s > h.changelog_sequence) return Status::OK();
        if (!range.Contains(c.key_group)) return Status::OK();
        ++replayed.changes;
        if (current_key != c.key) {
          WEIR_RETURN_IF_ERROR(backend.SetCurrentKey(c.key));
          current_key = c.key;
        }
        if (backend.current_key_group() != c.key_group) {
          return Status::Corruption(what + ": change " + std::to_string(s) + " names key group " +
                                    std::to_string(c.key_group) + ", its key is in " +
                                    std::to_string(backend.current_key_group()));
        }
        RawKeyedState* state = by_id.at(c.state_id);
        state->SetCurrentNamespace(c.ns);
        switch (c.op) {
          case StateChangeOp::kPut:
            return state->Put(c.user_key, c.value);
          case StateChangeOp::kDelete:
            return state->Delete(c.user_key);
          case StateChangeOp::kAppend:
            return state->Append(c.value);
          case StateChangeOp::kClear:
            return state->Clear();
        }
        return Status::Corruption(what + ": unknown change");
      }));
    }
  }
  // States start in the void namespace (typed states assume it).
  for (const auto& [name, state] : raw) state->SetCurrentNamespace({});
  return replayed;
}

}  // namespace weir
