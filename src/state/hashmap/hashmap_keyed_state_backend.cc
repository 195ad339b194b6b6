#include "state/hashmap/hashmap_keyed_state_backend.h"

#include <optional>

#include "common/coding.h"
#include "snapshot/full_snapshot_strategy.h"
#include "snapshot/restore/full_restore.h"
#include "state/backend_checks.h"
#include "state/row_key.h"
#include "state/ttl_value.h"

namespace weir {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// One registered state: a table of rows per key group, scoped by the backend's current key and
// this state's namespace.
class HashMapKeyedStateBackend::Table final : public RawKeyedState {
 public:
  Table(HashMapKeyedStateBackend* backend, StateMetaInfo meta)
      : backend_(backend),
        meta_(std::move(meta)),
        groups_(static_cast<size_t>(backend->options_.key_group_range.size())) {
    SetCurrentNamespace({});
  }

  const StateMetaInfo& meta() const override { return meta_; }
  void SetCurrentNamespace(std::string_view serialized_namespace) override {
    namespace_.clear();
    PutLengthPrefixed(&namespace_, serialized_namespace);
  }

  Result<std::optional<std::string>> Get(std::string_view user_key) override {
    WEIR_RETURN_IF_ERROR(CheckKey());
    CleanUpExpired();
    const Rows* rows = Read(backend_->current_key_group_);
    if (rows == nullptr) return std::optional<std::string>();
    auto it = rows->find(RowKey(user_key));
    if (it == rows->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Put(std::string_view user_key, std::string_view value) override {
    WEIR_RETURN_IF_ERROR(CheckKey());
    CleanUpExpired();
    Mutable(backend_->current_key_group_)[RowKey(user_key)].assign(value);
    return Status::OK();
  }
  Status Append(std::string_view operand) override {
    WEIR_RETURN_IF_ERROR(CheckKey());
    CleanUpExpired();
    Mutable(backend_->current_key_group_)[RowKey({})].append(operand);
    return Status::OK();
  }
  Status Delete(std::string_view user_key) override {
    WEIR_RETURN_IF_ERROR(CheckKey());
    const std::string row = RowKey(user_key);
    const Rows* rows = Read(backend_->current_key_group_);
    // A table pinned by a snapshot is copied only when something really changes.
    if (rows != nullptr && rows->count(row) > 0) Mutable(backend_->current_key_group_).erase(row);
    return Status::OK();
  }
  Status Clear() override {
    WEIR_RETURN_IF_ERROR(CheckKey());
    const std::string prefix = RowKey({});
    const Rows* rows = Read(backend_->current_key_group_);
    if (rows == nullptr) return Status::OK();
    auto first = rows->lower_bound(prefix);
    if (first == rows->end() || !StartsWith(first->first, prefix)) return Status::OK();
    Rows& mutable_rows = Mutable(backend_->current_key_group_);
    auto from = mutable_rows.lower_bound(prefix);
    auto to = from;
    while (to != mutable_rows.end() && StartsWith(to->first, prefix)) ++to;
    mutable_rows.erase(from, to);
    return Status::OK();
  }
  Status ForEachRow(const std::function<bool(std::string_view, std::string_view)>& visit) override {
    WEIR_RETURN_IF_ERROR(CheckKey());
    const Rows* rows = Read(backend_->current_key_group_);
    if (rows == nullptr) return Status::OK();
    const std::string prefix = RowKey({});
    for (auto it = rows->lower_bound(prefix); it != rows->end() && StartsWith(it->first, prefix);
         ++it) {
      if (!visit(std::string_view(it->first).substr(prefix.size()), it->second)) break;
    }
    return Status::OK();
  }

  // The table of `key_group`, or null while it has never been written.
  const Rows* Read(int key_group) const { return groups_[Index(key_group)].get(); }
  // The table of `key_group` for writing: made on first use, copied first if a snapshot pins it.
  Rows& Mutable(int key_group) {
    std::shared_ptr<Rows>& rows = groups_[Index(key_group)];
    if (!rows) {
      rows = std::make_shared<Rows>();
    } else if (rows.use_count() > 1) {
      rows = std::make_shared<Rows>(*rows);
    }
    return *rows;
  }
  // Every key group's table as of now (shared with the backend until it writes them).
  std::vector<std::shared_ptr<const Rows>> Pin() const { return {groups_.begin(), groups_.end()}; }

  // From now on each read or write of this state first looks at a few more rows for expired
  // values (Flink's incremental cleanup of heap state).
  void EnableTtlCleanup(TtlRowFilter filter, std::shared_ptr<const TtlTimeProvider> clock) {
    ttl_filter_ = filter;
    ttl_clock_ = std::move(clock);
  }

 private:
  // Rows looked at per access: Flink's default for heap state (cleanupIncrementally(5, false)).
  static constexpr int kRowsCheckedPerAccess = 5;

  // Walks the state's rows round-robin from where the last access stopped, removing values that
  // have expired, so that rows no one reads again do not stay in memory forever.
  void CleanUpExpired() {
    if (!ttl_filter_) return;
    const int64_t now = ttl_clock_->CurrentTimestamp();
    int checked = 0;
    std::string kept;
    // Each round looks at a row or moves past a key group; a full round of key groups without
    // a row ends it (an empty state).
    for (size_t groups_without_rows = 0;
         checked < kRowsCheckedPerAccess && groups_without_rows <= groups_.size();) {
      const Rows* rows = groups_[cleanup_group_].get();
      auto it = rows == nullptr ? Rows::const_iterator() : rows->upper_bound(cleanup_after_);
      if (rows == nullptr || it == rows->end()) {
        cleanup_group_ = (cleanup_group_ + 1) % groups_.size();
        cleanup_after_.clear();
        ++groups_without_rows;
        continue;
      }
      groups_without_rows = 0;
      ++checked;
      cleanup_after_ = it->first;
      const TtlRowDecision decision = FilterExpired(*ttl_filter_, it->second, now, &kept);
      if (decision == TtlRowDecision::kKeep) continue;
      // A table a snapshot pins is copied by the change, not changed under the snapshot.
      Rows& writable =
          Mutable(static_cast<int>(cleanup_group_) + backend_->options_.key_group_range.start);
      if (decision == TtlRowDecision::kDrop) {
        writable.erase(cleanup_after_);
      } else {
        writable[cleanup_after_] = kept;
      }
    }
  }

  size_t Index(int key_group) const {
    return static_cast<size_t>(key_group - backend_->options_.key_group_range.start);
  }
  Status CheckKey() const {
    if (backend_->current_key_group_ < 0) {
      return Status::FailedPrecondition("state '" + meta_.name +
                                        "' accessed before a current key was set");
    }
    return Status::OK();
  }
  std::string RowKey(std::string_view user_key) const {
    std::string row;
    row.reserve(backend_->current_key_prefix_.size() + namespace_.size() + user_key.size());
    row.append(backend_->current_key_prefix_).append(namespace_).append(user_key);
    return row;
  }

  HashMapKeyedStateBackend* backend_;
  StateMetaInfo meta_;
  std::string namespace_;  // varint length + serialized namespace
  std::vector<std::shared_ptr<Rows>> groups_;
  // Incremental cleanup of expired values (set when the state is requested with a TTL).
  std::optional<TtlRowFilter> ttl_filter_;
  std::shared_ptr<const TtlTimeProvider> ttl_clock_;
  size_t cleanup_group_ = 0;   // index into groups_
  std::string cleanup_after_;  // the last row looked at in that group (empty: none yet)
};

// The rows of every state as pinned by CreateSnapshotView, in the canonical order: key group by
// key group, state by state, rows in byte order.
class HashMapKeyedStateBackend::View final : public StateSnapshotView {
 public:
  View(std::vector<StateMetaInfo> states,
       std::vector<std::vector<std::shared_ptr<const Rows>>> rows, KeyGroupRange range)
      : states_(std::move(states)), rows_(std::move(rows)), range_(range) {}

  const std::vector<StateMetaInfo>& states() const override { return states_; }
  std::unique_ptr<KeyGroupRowIterator> NewIterator() const override {
    return std::make_unique<Iterator>(this);
  }

 private:
  class Iterator final : public KeyGroupRowIterator {
   public:
    explicit Iterator(const View* view) : view_(view) { Settle(); }
    bool Valid() const override { return group_ < view_->range_.size(); }
    void Next() override {
      ++row_;
      Settle();
    }
    int key_group() const override { return view_->range_.start + group_; }
    size_t state_index() const override { return state_; }
    std::string_view key() const override { return row_->first; }
    std::string_view value() const override { return row_->second; }
    Status status() const override { return Status::OK(); }

   private:
    // Moves to the next row at or after the current position.
    void Settle() {
      while (group_ < view_->range_.size()) {
        while (state_ < view_->states_.size()) {
          const Rows* rows = view_->rows_[state_][static_cast<size_t>(group_)].get();
          if (rows != nullptr) {
            if (!started_) row_ = rows->begin();
            started_ = true;
            if (row_ != rows->end()) return;
          }
          ++state_;
          started_ = false;
        }
        ++group_;
        state_ = 0;
      }
    }

    const View* view_;
    int group_ = 0;
    size_t state_ = 0;
    bool started_ = false;
    Rows::const_iterator row_;
  };

  std::vector<StateMetaInfo> states_;
  std::vector<std::vector<std::shared_ptr<const Rows>>> rows_;  // [state][key group - start]
  KeyGroupRange range_;
};

class HashMapKeyedStateBackend::Loader final : public StateBulkLoader {
 public:
  Loader(std::vector<Table*> tables, KeyGroupRange range)
      : tables_(std::move(tables)), range_(range) {}
  Status Add(size_t state_index, int key_group, std::string_view key,
             std::string_view value) override {
    if (state_index >= tables_.size()) return Status::Corruption("row of an unknown state");
    if (!range_.Contains(key_group)) {
      return Status::Corruption("row of key group " + std::to_string(key_group) +
                                " outside the backend's range " + range_.ToString());
    }
    tables_[state_index]->Mutable(key_group).insert_or_assign(std::string(key), std::string(value));
    return Status::OK();
  }
  Status Finish() override { return Status::OK(); }

 private:
  std::vector<Table*> tables_;
  KeyGroupRange range_;
};

HashMapKeyedStateBackend::HashMapKeyedStateBackend(HashMapBackendOptions options)
    : options_(std::move(options)) {}

HashMapKeyedStateBackend::~HashMapKeyedStateBackend() = default;

Result<std::unique_ptr<HashMapKeyedStateBackend>> HashMapKeyedStateBackend::Create(
    HashMapBackendOptions options) {
  WEIR_RETURN_IF_ERROR(ValidateBackendIdentity(options.backend_id, options.max_parallelism,
                                               &options.key_group_range));
  return std::unique_ptr<HashMapKeyedStateBackend>(
      new HashMapKeyedStateBackend(std::move(options)));
}

Status HashMapKeyedStateBackend::SetCurrentKey(std::string_view serialized_key) {
  WEIR_ASSIGN_OR_RETURN(const int group, KeyGroupInRange(serialized_key, options_.max_parallelism,
                                                         options_.key_group_range));
  current_key_group_ = group;
  current_key_prefix_.clear();
  PutLengthPrefixed(&current_key_prefix_, serialized_key);
  return Status::OK();
}

HashMapKeyedStateBackend::Table* HashMapKeyedStateBackend::FindTable(std::string_view name) const {
  for (const auto& t : tables_) {
    if (t->meta().name == name) return t.get();
  }
  return nullptr;
}

Status HashMapKeyedStateBackend::ForEachKey(std::string_view state_name,
                                            std::string_view serialized_namespace,
                                            const std::function<bool(std::string_view)>& visit) {
  const Table* table = FindTable(state_name);
  if (table == nullptr) {
    return Status::NotFound("no state named '" + std::string(state_name) + "' is registered");
  }
  for (int group = options_.key_group_range.start; group <= options_.key_group_range.end; ++group) {
    const Rows* rows = table->Read(group);
    if (rows == nullptr) continue;
    std::string_view last_key;
    bool have_last = false;
    for (const auto& [row, value] : *rows) {
      std::string_view rest = row, key, name_space;
      if (!GetLengthPrefixed(&rest, &key) || !GetLengthPrefixed(&rest, &name_space)) {
        return Status::Corruption("state '" + std::string(state_name) + "': malformed row key");
      }
      if (name_space != serialized_namespace || (have_last && key == last_key)) continue;
      last_key = key;
      have_last = true;
      if (!visit(key)) return Status::OK();
    }
  }
  return Status::OK();
}

std::vector<StateMetaInfo> HashMapKeyedStateBackend::RegisteredStates() const {
  std::vector<StateMetaInfo> out;
  for (const auto& t : tables_) out.push_back(t->meta());
  return out;
}

Result<RawKeyedState*> HashMapKeyedStateBackend::GetOrCreateRawState(const StateMetaInfo& meta) {
  Table* t = FindTable(meta.name);
  WEIR_RETURN_IF_ERROR(CheckStateRegistration(t ? &t->meta() : nullptr, meta));
  if (t != nullptr) return t;
  tables_.push_back(std::make_unique<Table>(this, meta));
  return tables_.back().get();
}

Result<std::unique_ptr<AsyncSnapshotPart>> HashMapKeyedStateBackend::Snapshot(
    uint64_t checkpoint_id, const CheckpointOptions& options) {
  if (!strategy_) {
    return Status::FailedPrecondition("backend " + options_.backend_id +
                                      " was made without checkpoint storage");
  }
  // The canonical format is this backend's native one: every savepoint is written in it.
  return strategy_->SyncPart(checkpoint_id, options);
}

Result<std::unique_ptr<StateSnapshotView>> HashMapKeyedStateBackend::CreateSnapshotView() {
  std::vector<StateMetaInfo> states;
  std::vector<std::vector<std::shared_ptr<const Rows>>> rows;
  for (const auto& t : tables_) {
    states.push_back(t->meta());
    rows.push_back(t->Pin());
  }
  return std::unique_ptr<StateSnapshotView>(
      new View(std::move(states), std::move(rows), options_.key_group_range));
}

Status HashMapKeyedStateBackend::OnTtlStateRegistered(const StateMetaInfo& meta,
                                                      const StateTtlConfig& ttl) {
  Table* t = FindTable(meta.name);
  if (t == nullptr) return Status::Internal("state '" + meta.name + "' has no table");
  t->EnableTtlCleanup(TtlRowFilter{meta.kind == StateKind::kList, ttl.ttl.count()},
                      ttl_time_provider());
  return Status::OK();
}

Status HashMapKeyedStateBackend::RegisterStates(const std::vector<StateMetaInfo>& states) {
  for (const auto& s : states) WEIR_RETURN_IF_ERROR(GetOrCreateRawState(s).status());
  return Status::OK();
}

Result<std::unique_ptr<StateBulkLoader>> HashMapKeyedStateBackend::NewBulkLoader(
    const std::vector<StateMetaInfo>& states) {
  std::vector<Table*> tables;
  for (const auto& s : states) {
    Table* t = FindTable(s.name);
    if (t == nullptr) return Status::InvalidArgument("state '" + s.name + "' is not registered");
    tables.push_back(t);
  }
  return std::unique_ptr<StateBulkLoader>(new Loader(std::move(tables), options_.key_group_range));
}

Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateHashMapKeyedStateBackend(
    const KeyedStateBackendParameters& parameters, const KeyedStateRestore* restore) {
  WEIR_ASSIGN_OR_RETURN(auto backend, HashMapKeyedStateBackend::Create(
                                          {parameters.backend_id, parameters.max_parallelism,
                                           parameters.key_group_range}));
  if (restore != nullptr) {
    const std::string context = "restore of checkpoint " + std::to_string(restore->checkpoint_id);
    for (const auto& handle : restore->handles) {
      if (handle.kind != BackendSnapshotKind::kFull) {
        return Status::NotSupported(
            context + ": backend " + handle.backend_id +
            " holds RocksDB's own files (an incremental checkpoint or a native savepoint), "
            "which the hashmap backend cannot read; restore it with state.backend.type: "
            "rocksdb (the hashmap backend restores full checkpoints and canonical savepoints "
            "of either backend)");
      }
    }
    WEIR_RETURN_IF_ERROR(RestoreFullSnapshots(*restore->storage, restore->checkpoint_id,
                                              restore->handles, *backend, parameters.io_pool));
  }
  if (parameters.checkpoint_storage != nullptr) {
    // Always full: a heap backend has no files to share between checkpoints (Flink's
    // HashMapStateBackend ignores incremental checkpoints the same way).
    backend->SetSnapshotStrategy(
        std::make_unique<FullSnapshotStrategy>(*backend, *parameters.checkpoint_storage));
  }
  return std::unique_ptr<CheckpointableKeyedStateBackend>(std::move(backend));
}

}  // namespace weir
