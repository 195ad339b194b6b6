#include "state/rocksdb/rocksdb_keyed_state_backend.h"

#include <rocksdb/convenience.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "common/thread_name.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/backend_checks.h"
#include "state/rocksdb/rocksdb_db.h"
#include "state/rocksdb/rocksdb_row_prefix.h"
#include "state/rocksdb/rocksdb_shared_memory.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"
#include "state/row_key.h"

namespace weir {
namespace {

// List state rows are a concatenation of framed elements, so merging is appending.
class ListAppendOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    new_value->clear();
    if (existing != nullptr) new_value->assign(existing->data(), existing->size());
    new_value->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "weir.ListAppend"; }
};

}  // namespace

RocksDbKeyedStateBackend::Db::~Db() {
  if (memory) memory->RemoveMemtableHolder(this);  // before anything closes
  if (drop_thread.joinable()) {
    db->DisableManualCompaction();  // ends the background compaction early: the database closes
    drop_thread.join();
  }
  for (auto& [name, handle] : column_families) db->DestroyColumnFamilyHandle(handle);
  delete db;
}

void RocksDbKeyedStateBackend::Db::AddColumnFamily(const std::string& state_name,
                                                   rocksdb::ColumnFamilyHandle* handle) {
  std::lock_guard lock(families_mu);
  column_families.emplace(state_name, handle);
}

void RocksDbKeyedStateBackend::Db::JoinMemoryBudget(std::shared_ptr<RocksDbSharedMemory> budget) {
  memory = std::move(budget);
  if (memory) memory->AddMemtableHolder(this);
}

namespace {

uint64_t IntProperty(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& name) {
  uint64_t value = 0;
  return db->GetIntProperty(cf, name, &value) ? value : 0;
}

// The column family with the largest mutable memtable (null if all are empty), with its size.
std::pair<rocksdb::ColumnFamilyHandle*, uint64_t> LargestMutableMemtable(
    rocksdb::DB* db, const std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>>& cfs,
    uint64_t* immutable) {
  std::pair<rocksdb::ColumnFamilyHandle*, uint64_t> largest{nullptr, 0};
  for (const auto& [name, cf] : cfs) {
    if (immutable != nullptr) *immutable += IntProperty(db, cf, "rocksdb.num-immutable-mem-table");
    const uint64_t bytes = IntProperty(db, cf, "rocksdb.cur-size-active-mem-table");
    if (bytes > largest.second) largest = {cf, bytes};
  }
  return largest;
}

}  // namespace

MemtableHolder::Usage RocksDbKeyedStateBackend::Db::MemtableUsage() {
  std::lock_guard lock(families_mu);
  Usage usage;
  usage.largest_mutable_bytes =
      LargestMutableMemtable(db, column_families, &usage.immutable_memtables).second;
  return usage;
}

void RocksDbKeyedStateBackend::Db::FlushLargestMemtable() {
  std::lock_guard lock(families_mu);
  rocksdb::ColumnFamilyHandle* cf = LargestMutableMemtable(db, column_families, nullptr).first;
  if (cf == nullptr) return;
  rocksdb::FlushOptions options;
  options.wait = false;
  options.allow_write_stall = true;  // never wait here for RocksDB's own write stall to end
  // A failed flush leaves the memtable where it was; the next write asks again.
  (void)db->Flush(options, cf);
}

Status FromRocksDb(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return Status::OK();
  const std::string msg = context + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsIOError()) return Status::IOError(msg, s.IsBusy() || s.IsTryAgain());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  return Status::Internal(msg);
}

const rocksdb::WriteOptions& StateWriteOptions() {
  static const rocksdb::WriteOptions options = [] {
    rocksdb::WriteOptions o;
    o.disableWAL = true;
    return o;
  }();
  return options;
}

std::string ColumnFamilyName(std::string_view state_name) {
  return "state:" + std::string(state_name);
}

// One registered state: its column family, scoped by the backend's current key and this
// state's namespace. With a write-back cache, point accesses go through it and iterations drain
// it first (RocksDB then holds every row).
class RocksDbKeyedStateBackend::Table final : public RawKeyedState {
 public:
  Table(RocksDbKeyedStateBackend* backend, StateMetaInfo meta, rocksdb::ColumnFamilyHandle* cf,
        size_t index)
      : backend_(backend), meta_(std::move(meta)), cf_(cf) {
    // The cache tells the tables' rows apart by this tag before the row key.
    tag_[0] = static_cast<char>(index >> 8);
    tag_[1] = static_cast<char>(index & 0xff);
  }

  const StateMetaInfo& meta() const override { return meta_; }
  void SetCurrentNamespace(std::string_view ns) override { namespace_.assign(ns); }

  Result<std::optional<std::string>> Get(std::string_view user_key) override {
    WEIR_RETURN_IF_ERROR(BuildKey(user_key));
    if (WriteBackCache* cache = backend_->cache_.get()) return cache->Get(cf_, key_);
    std::string value;
    static const rocksdb::ReadOptions read_options;
    const auto s = db()->Get(read_options, cf_, RocksKey(), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    WEIR_RETURN_IF_ERROR(Check(s, "get"));
    return std::optional<std::string>(std::move(value));
  }

  Status Put(std::string_view user_key, std::string_view value) override {
    WEIR_RETURN_IF_ERROR(BuildKey(user_key));
    if (WriteBackCache* cache = backend_->cache_.get()) return cache->Put(cf_, key_, value);
    return Written(db()->Put(StateWriteOptions(), cf_, RocksKey(), rocksdb::Slice(value)), "put");
  }

  Status Append(std::string_view operand) override {
    WEIR_RETURN_IF_ERROR(BuildKey({}));
    if (WriteBackCache* cache = backend_->cache_.get()) return cache->Merge(cf_, key_, operand);
    return Written(db()->Merge(StateWriteOptions(), cf_, RocksKey(), rocksdb::Slice(operand)),
                   "append");
  }

  Status Delete(std::string_view user_key) override {
    WEIR_RETURN_IF_ERROR(BuildKey(user_key));
    if (WriteBackCache* cache = backend_->cache_.get()) return cache->Delete(cf_, key_);
    return Written(db()->Delete(StateWriteOptions(), cf_, RocksKey()), "delete");
  }

  Status Clear() override {
    if (meta_.kind != StateKind::kMap) return Delete({});
    std::vector<std::string> rows;
    Status s = ForEachRawRow([&](const rocksdb::Slice& key, const rocksdb::Slice&) {
      rows.emplace_back(key.data(), key.size());
      return true;
    });
    WEIR_RETURN_IF_ERROR(s);
    if (WriteBackCache* cache = backend_->cache_.get()) {
      for (const auto& row : rows) {
        key_.assign(tag_, 2);
        key_.append(row);
        WEIR_RETURN_IF_ERROR(cache->Delete(cf_, key_));
      }
      return Status::OK();
    }
    rocksdb::WriteBatch batch;
    for (const auto& row : rows) batch.Delete(cf_, row);
    return Written(db()->Write(StateWriteOptions(), &batch), "clear");
  }

  Status ForEachRow(const std::function<bool(std::string_view, std::string_view)>& visit) override {
    WEIR_RETURN_IF_ERROR(BuildKey({}));
    const size_t prefix_size = key_.size() - 2;
    return ForEachRawRow([&](const rocksdb::Slice& key, const rocksdb::Slice& value) {
      const std::string_view k(key.data(), key.size());
      return visit(k.substr(prefix_size), std::string_view(value.data(), value.size()));
    });
  }

 private:
  rocksdb::DB* db() const { return backend_->db_->db; }

  // The context of an error is built only for an error: state accesses are the hot path.
  Status Check(const rocksdb::Status& s, const char* operation) const {
    if (s.ok()) return Status::OK();
    return FromRocksDb(s, "state '" + meta_.name + "': " + operation);
  }
  // Check of a write, which keeps the memtables within the memory budget.
  Status Written(const rocksdb::Status& s, const char* operation) const {
    if (!s.ok()) return Check(s, operation);
    backend_->db_->WaitForMemtableRoom();
    return Status::OK();
  }

  // key_ = the tag, then the row key: current key's prefix, namespace, `user_key`.
  Status BuildKey(std::string_view user_key) {
    if (backend_->current_key_group_ < 0) {
      return Status::FailedPrecondition("state '" + meta_.name +
                                        "' accessed before a current key was set");
    }
    key_.assign(tag_, 2);
    key_.append(backend_->current_key_prefix_);
    AppendNamespace(&key_, namespace_);
    key_.append(user_key);
    return Status::OK();
  }
  rocksdb::Slice RocksKey() const { return rocksdb::Slice(key_.data() + 2, key_.size() - 2); }

  Status ForEachRawRow(
      const std::function<bool(const rocksdb::Slice&, const rocksdb::Slice&)>& visit) {
    WEIR_RETURN_IF_ERROR(BuildKey({}));
    const std::string lower = RocksKey().ToString();
    if (WriteBackCache* cache = backend_->cache_.get()) WEIR_RETURN_IF_ERROR(cache->Drain(cf_));
    const std::string upper = PrefixSuccessor(lower);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db()->NewIterator(ro, cf_));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      if (!visit(it->key(), it->value())) break;
    }
    return FromRocksDb(it->status(), "state '" + meta_.name + "': iterate");
  }

  RocksDbKeyedStateBackend* backend_;
  StateMetaInfo meta_;
  rocksdb::ColumnFamilyHandle* cf_;
  char tag_[2];
  std::string namespace_;
  std::string key_;  // the access's key, reused: no allocation per access
};

RocksDbKeyedStateBackend::RocksDbKeyedStateBackend(RocksDbBackendOptions options,
                                                   std::shared_ptr<Db> db)
    : options_(std::move(options)), db_(std::move(db)) {
  if (options_.tuning.write_back_cache) {
    WriteBackIngestion ingestion;
    if (options_.tuning.write_back_ingest_min_rows > 0) {
      ingestion.dir = options_.local_dir + "/write-back";
      ingestion.min_rows = options_.tuning.write_back_ingest_min_rows;
      ingestion.level0_limit = db_->cf_options.level0_slowdown_writes_trigger;
      ingestion.before_ingest = [db = db_.get()] { db->FinishSwitchedCheckpoints(); };
    }
    cache_ = std::make_unique<WriteBackCache>(db_->db, options_.tuning.write_back_cache,
                                              options_.tuning.memory, std::move(ingestion));
    cache_->Reserve(options_.changes_to_replay);
  }
}

Status RocksDbKeyedStateBackend::DrainWriteBackCache() {
  return cache_ ? cache_->Drain() : Status::OK();
}

void RocksDbKeyedStateBackend::BarrierForwarded() {
  if (cache_) cache_->WakeWriter();
}

Status RocksDbKeyedStateBackend::FinishReplay() {
  if (!db_->cf_options.disable_auto_compactions) return Status::OK();
  db_->cf_options.disable_auto_compactions = false;  // column families created from now on
  for (const auto& [name, cf] : db_->column_families) {
    WEIR_RETURN_IF_ERROR(
        FromRocksDb(db_->db->SetOptions(cf, {{"disable_auto_compactions", "false"}}),
                    "turn on the compactions of state '" + name + "' after the replay"));
  }
  return Status::OK();
}

bool RocksDbKeyedStateBackend::compactions_held() const {
  return db_->cf_options.disable_auto_compactions;
}

RocksDbKeyedStateBackend::~RocksDbKeyedStateBackend() = default;

rocksdb::DB* RocksDbKeyedStateBackend::database() const { return db_->db; }

Status RocksDbKeyedStateBackend::ValidateOptions(RocksDbBackendOptions& options) {
  WEIR_RETURN_IF_ERROR(ValidateBackendIdentity(options.backend_id, options.max_parallelism,
                                               &options.key_group_range));
  if (options.local_dir.empty()) return Status::InvalidArgument("backend local_dir is empty");
  return Status::OK();
}

namespace {

// Buckets of the hash memtable. Their heads (8 bytes each) are allocated with every memtable,
// even an empty one, and count against the write buffers: at most 128 KiB, and within a memory
// budget an eighth of a memtable's first arena block (which scales with the budget), so many
// column families stay within it. A 64 MiB memtable of keyed-aggregate holds some 400,000 row
// versions: a few dozen per bucket, a search of a skip list that short stays in a few cache lines.
size_t HashMemtableBuckets(const RocksDbTuning& t) {
  constexpr size_t kMax = 16384, kMin = 1024;
  if (!t.memory) return kMax;
  return std::clamp<size_t>(t.memory->arena_block_size() / 8 / 8, kMin, kMax);
}

rocksdb::Options DatabaseOptions(const rocksdb::ColumnFamilyOptions& cf_options,
                                 const RocksDbTuning& t) {
  rocksdb::Options o(rocksdb::DBOptions(), cf_options);
  o.max_background_jobs = 2;
  if (t.memory) o.write_buffer_manager = t.memory->write_buffer_manager();
  // Only the skip list takes concurrent inserts; one thread writes a backend anyway.
  o.allow_concurrent_memtable_write = t.memtable == RocksDbMemtable::kSkipList;
  return o;
}

void ApplyTuning(const RocksDbBackendOptions& options, RocksDbKeyedStateBackend::Db* db) {
  const RocksDbTuning& t = options.tuning;
  rocksdb::ColumnFamilyOptions* cf = &db->cf_options;
  cf->merge_operator = std::make_shared<ListAppendOperator>();
  cf->compaction_filter_factory = db->ttl_filters;
  if (t.memtable == RocksDbMemtable::kHashSkipList) {
    // Iterators that cross (key, namespace) prefixes set total_order_seek (ForEachKey, snapshot
    // views); a state's own rows share one prefix.
    cf->prefix_extractor = NewRowKeyPrefixExtractor(KeyGroupPrefixBytes(options.max_parallelism));
    cf->memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(HashMemtableBuckets(t)));
  }
  cf->level0_file_num_compaction_trigger = t.level0_file_num_compaction_trigger;
  // A replay that follows the restore would share the cores with the compactions the restored
  // levels call for (a fifth of the CPU of a restore); they run after it (FinishReplay).
  // RocksDB neither slows nor stops writes for L0 files while they are off.
  cf->disable_auto_compactions = options.changes_to_replay > 0;
  // Keep RocksDB's distance between the compaction trigger and the write slowdown / stop.
  cf->level0_slowdown_writes_trigger = std::max(20, t.level0_file_num_compaction_trigger + 16);
  cf->level0_stop_writes_trigger = std::max(36, t.level0_file_num_compaction_trigger + 32);
  if (t.memory) {
    rocksdb::BlockBasedTableOptions table;
    t.memory->ConfigureTable(&table);
    cf->table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // Every non-empty memtable holds at least one arena block (see arena_block_size()).
    cf->arena_block_size = t.memory->arena_block_size();
  }
  if (t.compaction_style == RocksDbCompactionStyle::kUniversal) {
    cf->compaction_style = rocksdb::kCompactionStyleUniversal;
    cf->compaction_options_universal.max_size_amplification_percent =
        static_cast<unsigned>(t.max_size_amplification_percent);
  }
}

}  // namespace

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RocksDbKeyedStateBackend::Open(
    RocksDbBackendOptions options) {
  WEIR_RETURN_IF_ERROR(ValidateOptions(options));
  WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(options.local_dir));  // a stale attempt
  std::error_code ec;
  std::filesystem::create_directories(options.local_dir, ec);
  if (ec) return Status::IOError(options.local_dir + ": cannot create: " + ec.message());

  auto db = std::make_shared<Db>();
  ApplyTuning(options, db.get());
  rocksdb::Options db_options = DatabaseOptions(db->cf_options, options.tuning);
  db_options.create_if_missing = true;
  db_options.error_if_exists = true;
  WEIR_RETURN_IF_ERROR(FromRocksDb(rocksdb::DB::Open(db_options, DbDir(options.local_dir), &db->db),
                                   "open RocksDB in " + options.local_dir));
  db->JoinMemoryBudget(options.tuning.memory);
  return std::unique_ptr<RocksDbKeyedStateBackend>(
      new RocksDbKeyedStateBackend(std::move(options), std::move(db)));
}

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RocksDbKeyedStateBackend::OpenRestored(
    RocksDbBackendOptions options, const std::vector<StateMetaInfo>& states) {
  WEIR_RETURN_IF_ERROR(ValidateOptions(options));
  auto db = std::make_shared<Db>();
  ApplyTuning(options, db.get());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, db->cf_options}};
  for (const auto& s : states) descriptors.emplace_back(ColumnFamilyName(s.name), db->cf_options);
  // A checkpoint whose files were linked after its barrier (the deferred flush) may list a
  // column family the task created after the barrier (a state registered lazily, such as the
  // event-time timers): it holds nothing of the checkpoint (no SST of it passes the barrier
  // check), and the checkpoint's states do not name it. Opened too, as RocksDB requires, then
  // dropped.
  const rocksdb::Options db_options = DatabaseOptions(db->cf_options, options.tuning);
  std::vector<std::string> on_disk;
  if (rocksdb::DB::ListColumnFamilies(db_options, DbDir(options.local_dir), &on_disk).ok()) {
    for (const std::string& name : on_disk) {
      const bool known = std::any_of(descriptors.begin(), descriptors.end(),
                                     [&](const auto& d) { return d.name == name; });
      if (!known) descriptors.emplace_back(name, db->cf_options);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  WEIR_RETURN_IF_ERROR(FromRocksDb(
      rocksdb::DB::Open(db_options, DbDir(options.local_dir), descriptors, &handles, &db->db),
      "open restored RocksDB in " + options.local_dir));
  for (size_t i = states.size() + 1; i < handles.size(); ++i) {
    const Status dropped =
        FromRocksDb(db->db->DropColumnFamily(handles[i]),
                    "drop column family " + descriptors[i].name + " created after the checkpoint");
    db->db->DestroyColumnFamilyHandle(handles[i]);
    WEIR_RETURN_IF_ERROR(dropped);
  }
  db->db->DestroyColumnFamilyHandle(handles[0]);  // the default column family holds no state
  db->JoinMemoryBudget(options.tuning.memory);
  for (size_t i = 0; i < states.size(); ++i) {
    db->AddColumnFamily(states[i].name, handles[i + 1]);
  }
  std::unique_ptr<RocksDbKeyedStateBackend> backend(
      new RocksDbKeyedStateBackend(std::move(options), std::move(db)));
  for (const auto& s : states) {
    backend->tables_.push_back(std::make_unique<Table>(
        backend.get(), s, backend->db_->column_families.at(s.name), backend->tables_.size()));
  }
  return backend;
}

Status RocksDbKeyedStateBackend::DropKeyGroupsOutsideRange(KeyGroupRange held) {
  WEIR_RETURN_IF_ERROR(DrainWriteBackCache());
  const int prefix_bytes = KeyGroupPrefixBytes(options_.max_parallelism);
  const auto prefix = [&](int group) {
    std::string p;
    AppendKeyGroupPrefix(&p, group, prefix_bytes);
    return p;
  };
  const KeyGroupRange& own = options_.key_group_range;
  // [begin, end) of row keys: every row of a key group starts with its prefix.
  std::vector<std::pair<std::string, std::string>> drops;
  if (held.start < own.start) drops.emplace_back(prefix(held.start), prefix(own.start));
  if (held.end > own.end) drops.emplace_back(prefix(own.end + 1), prefix(held.end + 1));
  if (drops.empty()) return Status::OK();
  for (const auto& [name, cf] : db_->column_families) {
    for (const auto& [begin, end] : drops) {
      const rocksdb::Slice b(begin), e(end);
      // Files wholly inside the range go without being read or rewritten (their links in the
      // local directory only: the checkpoint's files stay); range deletions hide the rest.
      WEIR_RETURN_IF_ERROR(
          FromRocksDb(rocksdb::DeleteFilesInRange(db_->db, cf, &b, &e, /*include_end=*/false),
                      "drop files of key groups of state '" + name + "'"));
      WEIR_RETURN_IF_ERROR(FromRocksDb(db_->db->DeleteRange(StateWriteOptions(), cf, begin, end),
                                       "drop key groups of state '" + name + "'"));
    }
  }
  // The files that straddle a bound (and L0) are rewritten in the background, whatever their
  // level, so that no SST this backend keeps still carries dropped rows; the restore does not
  // wait for it, the next native checkpoint's synchronous part does (Db::WaitForDropCompaction).
  std::vector<std::pair<std::string, rocksdb::ColumnFamilyHandle*>> families(
      db_->column_families.begin(), db_->column_families.end());
  rocksdb::DB* db = db_->db;
  db_->StartDropCompaction([db, families, drops]() -> Status {
    rocksdb::CompactRangeOptions rewrite;
    rewrite.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    rewrite.exclusive_manual_compaction = false;  // the job's own flushes and compactions go on
    for (const auto& [name, cf] : families) {
      for (const auto& [begin, end] : drops) {
        const rocksdb::Slice b(begin), e(end);
        WEIR_RETURN_IF_ERROR(FromRocksDb(db->CompactRange(rewrite, cf, &b, &e),
                                         "compact dropped key groups of state '" + name + "'"));
      }
    }
    return Status::OK();
  });
  return Status::OK();
}

void RocksDbKeyedStateBackend::Db::StartDropCompaction(std::function<Status()> work) {
  std::lock_guard<std::mutex> lock(drop_mu);
  drop_work = std::move(work);
  drop_thread = std::thread([this] {
    SetCurrentThreadName("weir-drop-compact");
    drop_status = drop_work();
  });
}

Status RocksDbKeyedStateBackend::Db::WaitForDropCompaction() {
  std::lock_guard<std::mutex> lock(drop_mu);
  if (drop_thread.joinable()) drop_thread.join();
  // A failed background compaction is tried again here, by the waiting checkpoint.
  if (!drop_status.ok() && drop_work) drop_status = drop_work();
  if (drop_status.ok()) drop_work = nullptr;
  return drop_status;
}

Status RocksDbKeyedStateBackend::SetCurrentKey(std::string_view serialized_key) {
  WEIR_ASSIGN_OR_RETURN(const int group, KeyGroupInRange(serialized_key, options_.max_parallelism,
                                                         options_.key_group_range));
  current_key_group_ = group;
  current_key_prefix_ =
      EncodeKeyPrefix(group, KeyGroupPrefixBytes(options_.max_parallelism), serialized_key);
  return Status::OK();
}

Status RocksDbKeyedStateBackend::ForEachKey(
    std::string_view state_name, std::string_view serialized_namespace,
    const std::function<bool(std::string_view key)>& visit) {
  auto cf = db_->column_families.find(state_name);
  if (cf == db_->column_families.end()) {
    return Status::NotFound("no state named '" + std::string(state_name) + "' is registered");
  }
  if (cache_) WEIR_RETURN_IF_ERROR(cache_->Drain(cf->second));
  const int prefix_bytes = KeyGroupPrefixBytes(options_.max_parallelism);
  std::string lower, upper;
  AppendKeyGroupPrefix(&lower, options_.key_group_range.start, prefix_bytes);
  AppendKeyGroupPrefix(&upper, options_.key_group_range.end, prefix_bytes);
  upper = PrefixSuccessor(upper);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;  // across keys: past the prefix extractor's (key, namespace)
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(ro, cf->second));
  std::string last_key;
  bool have_last = false;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    RowKeyParts parts;
    if (!ParseRowKey(std::string_view(it->key().data(), it->key().size()), prefix_bytes, &parts)) {
      return Status::Corruption("state '" + std::string(state_name) + "': malformed row key");
    }
    if (parts.name_space != serialized_namespace) continue;
    if (have_last && parts.key == last_key) continue;
    last_key.assign(parts.key);
    have_last = true;
    if (!visit(parts.key)) break;
  }
  return FromRocksDb(it->status(), "state '" + std::string(state_name) + "': iterate keys");
}

Result<std::unique_ptr<AsyncSnapshotPart>> RocksDbKeyedStateBackend::Snapshot(
    uint64_t checkpoint_id, const CheckpointOptions& options) {
  if (!strategy_) {
    return Status::FailedPrecondition("backend " + options_.backend_id +
                                      " was made without checkpoint storage");
  }
  if (options.is_savepoint()) {
    if (!options.target) {
      return Status::InvalidArgument("savepoint " + std::to_string(checkpoint_id) +
                                     " has no target directory");
    }
    if (options.format == SavepointFormat::kNative && native_) {
      return native_->SyncPart(checkpoint_id, options);
    }
    // The async part keeps what it needs: the strategy may go at once.
    return FullSnapshotStrategy(*this, *options.target).SyncPart(checkpoint_id, options);
  }
  if (options.is_materialization()) {
    if (!native_) {
      return Status::NotSupported("backend " + options_.backend_id +
                                  " takes no incremental materialization");
    }
    return native_->SyncPart(checkpoint_id, options);
  }
  return strategy_->SyncPart(checkpoint_id, options);
}

std::vector<StateMetaInfo> RocksDbKeyedStateBackend::RegisteredStates() const {
  std::vector<StateMetaInfo> out;
  for (const auto& t : tables_) out.push_back(t->meta());
  return out;
}

Result<RawKeyedState*> RocksDbKeyedStateBackend::GetOrCreateRawState(const StateMetaInfo& meta) {
  WEIR_RETURN_IF_ERROR(CheckStateRegistration(nullptr, meta));
  for (const auto& t : tables_) {
    if (t->meta().name != meta.name) continue;
    WEIR_RETURN_IF_ERROR(CheckStateRegistration(&t->meta(), meta));
    return t.get();
  }
  if (tables_.size() > 0xffff) {
    return Status::NotSupported("state '" + meta.name + "': a backend holds at most 65536 " +
                                "states");
  }
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  WEIR_RETURN_IF_ERROR(FromRocksDb(
      db_->db->CreateColumnFamily(db_->cf_options, ColumnFamilyName(meta.name), &handle),
      "create column family for state '" + meta.name + "'"));
  db_->AddColumnFamily(meta.name, handle);
  tables_.push_back(std::make_unique<Table>(this, meta, handle, tables_.size()));
  return tables_.back().get();
}

Status RocksDbKeyedStateBackend::OnTtlStateRegistered(const StateMetaInfo& meta,
                                                      const StateTtlConfig& ttl) {
  auto cf = db_->column_families.find(meta.name);
  if (cf == db_->column_families.end()) {
    return Status::Internal("state '" + meta.name + "' has no column family");
  }
  db_->ttl_filters->Register(cf->second->GetID(),
                             TtlRowFilter{meta.kind == StateKind::kList, ttl.ttl.count()},
                             ttl.compaction_filter_query_time_after_entries, ttl_time_provider());
  return Status::OK();
}

Status RocksDbKeyedStateBackend::RegisterStates(const std::vector<StateMetaInfo>& states) {
  for (const auto& meta : states) {
    WEIR_ASSIGN_OR_RETURN(RawKeyedState * raw, GetOrCreateRawState(meta));
    (void)raw;
  }
  return Status::OK();
}

}  // namespace weir
