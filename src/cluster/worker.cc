#include "cluster/worker.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "common/log.h"
#include "io/file_system.h"
#include "io/owned_directory.h"

namespace weir::cluster {

namespace {

// The lease file lives in a directory the user named (the local state's): owner-only files,
// published atomically, deleted through the guard.
std::shared_ptr<FileSystem> LeaseFileSystem() { return NewPosixFileSystem({.owner_only = true}); }

// The lease id a former process of this member kept (0: none, or a file that is not one).
int64_t ReadLeaseFile(const std::string& path) {
  auto read = LeaseFileSystem()->ReadFileToString(path);
  if (!read.ok()) return 0;
  std::string text = std::move(read).value();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  int64_t lease = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), lease);
  if (text.empty() || text.size() > 19 || error != std::errc() ||
      end != text.data() + text.size() || lease <= 0) {
    LogWarn("lease file " + path + " does not hold a lease id; ignored");
    return 0;
  }
  return lease;
}

Status WriteLeaseFile(const std::string& path, int64_t lease) {
  auto fs = LeaseFileSystem();
  // The local directory may not exist yet (the jobs create it when they start).
  WEIR_RETURN_IF_ERROR(fs->CreateDirs(ParentPath(path)).WithContext("lease file " + path));
  return fs->PublishAtomically(path, std::to_string(lease) + "\n")
      .WithContext("lease file " + path);
}

Status DeleteLeaseFile(const std::string& path) {
  return OwnedDirectory(LeaseFileSystem(), ParentPath(path), OwnedDirectory::RootLink::kFollow)
      .DeleteFile(BaseName(path));
}

std::string SettingsText(int shards, const std::string& checkpoint_root) {
  return nlohmann::json{{"shards", shards}, {"checkpoint_root", checkpoint_root}}.dump();
}

// The job's settings as its first worker recorded them.
Result<std::pair<int, std::string>> ParseSettings(const std::string& key, const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("shards") || !j["shards"].is_number_integer() ||
      !j.contains("checkpoint_root") || !j["checkpoint_root"].is_string() ||
      j["shards"].get<int64_t>() < 1 || j["shards"].get<int64_t>() > 32768) {
    return Status::Corruption("etcd key " + key + ": '" + text.substr(0, 200) +
                              "' is not {\"shards\", \"checkpoint_root\"}");
  }
  return std::make_pair(j["shards"].get<int>(), j["checkpoint_root"].get<std::string>());
}

}  // namespace

Result<ClusterView> ReadClusterView(EtcdClient& etcd, const std::string& job) {
  if (!ValidJobName(job)) {
    return Status::InvalidArgument("job name '" + job.substr(0, 100) +
                                   "': use 1 to 100 letters, digits, '.', '_' or '-'");
  }
  const std::string prefix = "/weir/" + job + "/";
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> settings, etcd.Get(prefix + "settings"));
  if (!settings) {
    return Status::NotFound("no worker of job '" + job + "' ever started on etcd " +
                            etcd.endpoint());
  }
  ClusterView view;
  WEIR_ASSIGN_OR_RETURN(auto parsed, ParseSettings(settings->key, settings->value));
  view.shards = parsed.first;
  view.checkpoint_root = parsed.second;
  WEIR_ASSIGN_OR_RETURN(ShardRegistry registry,
                        ShardRegistry::Create(etcd, job, view.checkpoint_root));
  WEIR_ASSIGN_OR_RETURN(std::vector<KeyValue> members, etcd.GetPrefix(prefix + "members/"));
  for (const KeyValue& m : members) view.members.push_back(m.value);
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> leader, etcd.Get(prefix + "leader"));
  if (leader) view.leader = leader->value;
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> assignment, etcd.Get(prefix + "assignment"));
  if (assignment) {
    WEIR_ASSIGN_OR_RETURN(view.assignment, DecodeAssignment(assignment->value, view.shards));
  }
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> standbys, etcd.Get(prefix + "standbys"));
  if (standbys) {
    WEIR_ASSIGN_OR_RETURN(view.standbys, DecodeStandbys(standbys->value, view.shards));
  }
  WEIR_ASSIGN_OR_RETURN(view.shards_state, registry.List(view.shards));
  return view;
}

Result<std::unique_ptr<Worker>> Worker::Create(EtcdClient& etcd, WorkerOptions options,
                                               ShardJobFactory factory) {
  if (!ValidJobName(options.member)) {
    return Status::InvalidArgument("worker id '" + options.member.substr(0, 100) +
                                   "': use 1 to 100 letters, digits, '.', '_' or '-'");
  }
  if (options.shards < 1) {
    return Status::InvalidArgument("cluster.shards must be at least 1, not " +
                                   std::to_string(options.shards));
  }
  if (options.lease_ttl.count() < 1) {
    return Status::InvalidArgument("cluster.lease-ttl must be at least 1 s");
  }
  if (options.standby_replicas < 0) {
    return Status::InvalidArgument("cluster.standby-replicas must be at least 0, not " +
                                   std::to_string(options.standby_replicas));
  }
  WEIR_ASSIGN_OR_RETURN(ShardRegistry registry,
                        ShardRegistry::Create(etcd, options.job, options.checkpoint_root));
  return std::unique_ptr<Worker>(
      new Worker(etcd, std::move(options), std::move(factory), std::move(registry)));
}

Worker::Worker(EtcdClient& etcd, WorkerOptions options, ShardJobFactory factory,
               ShardRegistry registry)
    : etcd_(etcd),
      options_(std::move(options)),
      factory_(std::move(factory)),
      registry_(std::move(registry)) {
  if (options_.keep_standby_copy) {
    standby_ = std::make_unique<StandbyKeeper>(options_.member, options_.keep_standby_copy);
  }
}

Worker::~Worker() { Kill(); }

Status Worker::Register() {
  const int64_t former = options_.lease_file.empty() ? 0 : ReadLeaseFile(options_.lease_file);
  lease_ = std::make_unique<LeaseKeeper>(etcd_, options_.lease_ttl);
  WEIR_RETURN_IF_ERROR(lease_->Start([this] { cv_.notify_all(); }, former));
  if (lease_->adopted()) {
    // The shards this member owned are still its own (their owner keys live under this lease):
    // it claims those assigned to it again at the next epoch, which fences whatever its former
    // process left, and releases the others (its former process may have died in the middle of
    // a handoff: nobody else could claim them while this lease lives).
    settle_former_process_ = true;
    LogInfo("worker " + options_.member + " took its lease " + std::to_string(lease_->lease()) +
            " back (restarted within its " + std::to_string(options_.lease_ttl.count()) +
            " s): it keeps its shards");
  } else if (options_.discard_local_state) {
    // A new lease: whatever a former process kept for its shards is of no further use (runs end
    // by deleting their own copies: only a killed process leaves any). Nothing runs here now.
    for (int shard = 0; shard < options_.shards; ++shard) options_.discard_local_state(shard);
  }
  if (!options_.lease_file.empty()) {
    if (Status s = WriteLeaseFile(options_.lease_file, lease_->lease()); !s.ok()) {
      LogWarn("worker " + options_.member + ": " + s.ToString() +
              "; a restart of this process will not keep its shards");
    }
  }
  // Written at the next poll whatever it holds: a report under an adopted lease may be stale.
  published_copies_ = "(unknown)";
  return etcd_.Put(Key("members/" + options_.member), options_.member, lease_->lease()).status();
}

Status Worker::Start() {
  if (loop_.joinable()) return Status::FailedPrecondition("the worker already runs");
  const std::string key = Key("settings");
  const std::string mine = SettingsText(options_.shards, options_.checkpoint_root);
  WEIR_RETURN_IF_ERROR(
      etcd_.Txn({Compare::CreateRevision(key, 0)}, {Operation::Put(key, mine)}).status());
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> settings, etcd_.Get(key));
  if (!settings) return Status::IOError("etcd key " + key + " vanished right after it was written");
  WEIR_ASSIGN_OR_RETURN(auto recorded, ParseSettings(key, settings->value));
  if (recorded.first != options_.shards || recorded.second != options_.checkpoint_root) {
    return Status::FailedPrecondition(
        "job " + options_.job + " runs with " + std::to_string(recorded.first) +
        " shards checkpointed under " + recorded.second + " (fixed at its first start), not " +
        std::to_string(options_.shards) + " under " + options_.checkpoint_root);
  }
  WEIR_RETURN_IF_ERROR(Register());
  loop_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void Worker::Loop() {
  std::string last_error;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Status s = Poll();
    if (!s.ok() && s.ToString() != last_error) {
      LogWarn("worker " + options_.member + ": " + s.ToString());
    }
    last_error = s.ok() ? "" : s.ToString();
    lock.lock();
    // A shard assigned here but still owned elsewhere is about to be released (a handoff's
    // checkpoint takes a moment): poll faster until it is claimed, so that its input pauses less.
    const auto interval = awaiting_handoff_ ? std::min(options_.poll_interval, kHandoffPollInterval)
                                            : options_.poll_interval;
    cv_.wait_for(lock, interval, [&] {
      return stopping_ || (lease_ && lease_->lost()) || AnyStoppingUnreleased();
    });
  }
}

Status Worker::Poll() {
  if (lease_->lost()) {
    // Whatever this process ran may have a new owner already: stop it all, then start over as
    // a new member incarnation.
    LogWarn("worker " + options_.member + ": lease lost; stopping every shard it ran");
    CancelAll(/*lost=*/true);
    // The lease's expiry deleted the owner keys; a new owner's epoch refuses an old finish.
    unreleased_.clear();
    leader_ = false;
    lease_->Abandon();
    // Register discards the local copies: the standby copies stop first.
    if (standby_) standby_->ReleaseAll();
    WEIR_RETURN_IF_ERROR(Register());
  }
  ReleaseStopping();
  ReapEnded();
  DeleteSuperseded();
  WEIR_RETURN_IF_ERROR(LeadIfFree());
  if (leader_) WEIR_RETURN_IF_ERROR(Reassign());
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> text, etcd_.Get(Key("assignment")));
  if (!text) return Status::OK();  // no leader has assigned anything yet
  WEIR_ASSIGN_OR_RETURN(ShardAssignment assignment, DecodeAssignment(text->value, options_.shards));
  WEIR_RETURN_IF_ERROR(RunAssigned(assignment));
  if (settle_former_process_) {
    WEIR_RETURN_IF_ERROR(SettleFormerProcess(assignment));
    settle_former_process_ = false;
  }
  return KeepStandbys();
}

Status Worker::KeepStandbys() {
  if (!standby_) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> text, etcd_.Get(Key("standbys")));
  ShardStandbys standbys;
  if (text) {
    WEIR_ASSIGN_OR_RETURN(standbys, DecodeStandbys(text->value, options_.shards));
  }
  std::set<int> mine;
  for (const auto& [shard, members] : standbys) {
    if (std::find(members.begin(), members.end(), options_.member) != members.end()) {
      mine.insert(shard);
    }
  }
  {
    // Not a shard whose run here has yet to end or to be given up (its files are in use).
    std::lock_guard lock(mu_);
    for (const auto& [shard, run] : running_) mine.erase(shard);
  }
  for (const Lost& l : lost_) mine.erase(l.shard);
  for (const auto& [shard, e] : unreleased_) mine.erase(shard);
  std::map<int, ShardCheckpoint> wanted;
  if (!mine.empty()) {
    WEIR_ASSIGN_OR_RETURN(std::vector<ShardState> shards, registry_.List(options_.shards));
    for (const ShardState& s : shards) {
      if (mine.count(s.shard) > 0 && s.checkpoint && !s.finished) wanted[s.shard] = *s.checkpoint;
    }
  }
  standby_->Update(wanted);
  // What this member's copies hold, for the leader's warmups (under the lease: gone with it).
  const std::string copies = EncodeStandbyCopies(standby_->kept());
  if (copies != published_copies_) {
    WEIR_RETURN_IF_ERROR(
        etcd_.Put(Key("standby-copies/" + options_.member), copies, lease_->lease()).status());
    published_copies_ = copies;
  }
  return Status::OK();
}

Status Worker::SettleFormerProcess(const ShardAssignment& assignment) {
  WEIR_ASSIGN_OR_RETURN(std::vector<ShardState> shards, registry_.List(options_.shards));
  for (const ShardState& s : shards) {
    if (s.owner != options_.member) continue;
    const auto to = assignment.find(s.shard);
    if (to != assignment.end() && to->second == options_.member) continue;  // claimed above
    {
      std::lock_guard lock(mu_);
      if (running_.count(s.shard) > 0) continue;
    }
    LogInfo("worker " + options_.member + ": releasing shard " + std::to_string(s.shard) +
            ", which its former process held and which is assigned elsewhere now");
    WEIR_RETURN_IF_ERROR(registry_.Release(s.shard, options_.member, s.epoch));
  }
  if (!options_.discard_local_state) return Status::OK();
  // The former process may have died between a run's end (a handoff released, a shard finished)
  // and the deletion of its local copies: whatever this process does not run now goes, except
  // the copies its standby keeper is about to follow (it reuses what they hold).
  std::set<int> standing_by;
  if (standby_) {
    WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> text, etcd_.Get(Key("standbys")));
    if (text) {
      WEIR_ASSIGN_OR_RETURN(ShardStandbys standbys, DecodeStandbys(text->value, options_.shards));
      for (const auto& [shard, members] : standbys) {
        if (std::find(members.begin(), members.end(), options_.member) != members.end()) {
          standing_by.insert(shard);
        }
      }
    }
  }
  for (int shard = 0; shard < options_.shards; ++shard) {
    {
      std::lock_guard lock(mu_);
      if (running_.count(shard) > 0) continue;
    }
    if (standing_by.count(shard) == 0) options_.discard_local_state(shard);
  }
  return Status::OK();
}

Status Worker::LeadIfFree() {
  const std::string key = Key("leader");
  const int64_t lease = lease_->lease();
  WEIR_RETURN_IF_ERROR(
      etcd_.Txn({Compare::CreateRevision(key, 0)}, {Operation::Put(key, options_.member, lease)})
          .status());
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> leader, etcd_.Get(key));
  const bool mine = leader && leader->value == options_.member && leader->lease == lease;
  if (mine && !leader_) LogInfo("worker " + options_.member + " leads job " + options_.job);
  leader_ = mine;
  return Status::OK();
}

Status Worker::Reassign() {
  WEIR_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, etcd_.GetPrefix(Key("members/")));
  std::vector<std::string> members;
  for (const KeyValue& kv : kvs) members.push_back(kv.value);
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> current, etcd_.Get(Key("assignment")));
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> current_standbys, etcd_.Get(Key("standbys")));
  // What the leader wrote before; a damaged key (crafted, or cut short) is replaced.
  const auto decoded_or_empty = [&](const std::optional<KeyValue>& kv, auto decode) {
    std::remove_cvref_t<decltype(decode(std::string_view(), 0).value())> out{};
    if (!kv) return out;
    auto decoded = decode(kv->value, options_.shards);
    if (decoded.ok()) return std::move(decoded).value();
    LogWarn("worker " + options_.member + ": replacing damaged etcd key " + kv->key + ": " +
            decoded.status().ToString());
    return out;
  };
  const ShardAssignment previous = decoded_or_empty(current, DecodeAssignment);
  const ShardStandbys previous_standbys = decoded_or_empty(current_standbys, DecodeStandbys);
  // A lost member's shards go to their standbys, which hold most of their state already.
  ShardAssignment assignment = AssignShards(options_.shards, members, previous, previous_standbys);
  ShardStandbys standbys = AssignStandbys(options_.shards, members, assignment, previous_standbys,
                                          options_.standby_replicas);
  if (options_.standby_replicas > 0) {
    WEIR_RETURN_IF_ERROR(DeferColdMoves(previous, members, &assignment, &standbys));
  }
  const std::string next = EncodeAssignment(assignment);
  const std::string next_standbys = EncodeStandbys(standbys);
  const bool same = current && current->value == next;
  const bool same_standbys =
      current_standbys ? current_standbys->value == next_standbys : next_standbys.empty();
  if (same && same_standbys) return Status::OK();
  // Only while this process still leads (its leader key under its lease).
  return etcd_
      .Txn(
          {Compare::Value(Key("leader"), options_.member)},
          {Operation::Put(Key("assignment"), next), Operation::Put(Key("standbys"), next_standbys)})
      .status();
}

Status Worker::DeferColdMoves(const ShardAssignment& previous,
                              const std::vector<std::string>& members, ShardAssignment* assignment,
                              ShardStandbys* standbys) {
  const std::set<std::string> live(members.begin(), members.end());
  std::vector<std::pair<int, std::string>> moves;  // balance moves off a live owner
  for (const auto& [shard, to] : *assignment) {
    const auto from = previous.find(shard);
    if (from != previous.end() && from->second != to && live.count(from->second) > 0) {
      moves.emplace_back(shard, to);
    }
  }
  std::erase_if(warmups_, [&](const auto& w) {
    return std::find(moves.begin(), moves.end(), std::make_pair(w.first, w.second.first)) ==
           moves.end();
  });
  if (moves.empty()) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(std::vector<KeyValue> reports, etcd_.GetPrefix(Key("standby-copies/")));
  std::map<std::string, StandbyCopies> copies;
  for (const KeyValue& kv : reports) {
    auto decoded = DecodeStandbyCopies(kv.value, options_.shards);
    if (decoded.ok()) copies[kv.key.substr(kv.key.rfind('/') + 1)] = std::move(decoded).value();
  }
  WEIR_ASSIGN_OR_RETURN(std::vector<ShardState> states, registry_.List(options_.shards));
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [shard, to] : moves) {
    const ShardState& state = states[static_cast<size_t>(shard)];
    if (!state.checkpoint || state.finished) continue;  // nothing to warm up
    const StandbyCopies& of_to = copies[to];
    const auto held = of_to.find(shard);
    // Current: at most two checkpoints behind (the handoff's own checkpoint adds little more).
    if (held != of_to.end() && held->second + 2 >= state.checkpoint->id) continue;
    auto [it, started] = warmups_.try_emplace(shard, to, now);
    if (now - it->second.second >= kMaxWarmup) continue;  // never current: move it cold
    if (started) {
      LogInfo("worker " + options_.member + ": shard " + std::to_string(shard) + " moves to " + to +
              " once " + to + "'s standby copy of it is current");
    }
    (*assignment)[shard] = previous.at(shard);
    std::vector<std::string>& list = (*standbys)[shard];
    if (std::find(list.begin(), list.end(), to) == list.end()) list.push_back(to);
  }
  return Status::OK();
}

Status Worker::RunAssigned(const ShardAssignment& assignment) {
  // Hand off what is no longer ours; the run ends after its final checkpoint, then ReapEnded
  // releases it.
  {
    std::lock_guard lock(mu_);
    for (auto& [shard, run] : running_) {
      const auto it = assignment.find(shard);
      if ((it == assignment.end() || it->second != options_.member) && !run->handing_off &&
          !run->ended) {
        LogInfo("worker " + options_.member + ": handing shard " + std::to_string(shard) +
                " off to " + (it == assignment.end() ? std::string("nobody") : it->second));
        StartHandoff(run.get());
      }
    }
  }
  awaiting_handoff_ = false;
  for (const auto& [shard, member] : assignment) {
    if (member != options_.member) continue;
    {
      std::lock_guard lock(mu_);
      if (running_.count(shard) > 0) continue;
    }
    bool owned_elsewhere = false;
    WEIR_ASSIGN_OR_RETURN(
        std::optional<ShardState> claimed,
        registry_.TryClaim(shard, options_.member, lease_->lease(), &owned_elsewhere));
    if (!claimed) {
      // Still owned (its former owner hands it off, or its lease has yet to expire) or finished.
      awaiting_handoff_ = awaiting_handoff_ || owned_elsewhere;
      continue;
    }
    // Its standby copy (if this member kept one) stops changing before the run restores from it.
    if (standby_) standby_->Release(shard);
    const int64_t epoch = claimed->epoch;
    // etcd away for a moment (a restart, a slow disk) should not fail the shard: transient
    // errors are retried for up to a lease TTL (after which the lease is lost anyway).
    CheckpointFence fence = [this, shard, epoch](uint64_t id, const std::string& path,
                                                 bool savepoint) {
      const auto deadline = std::chrono::steady_clock::now() + options_.lease_ttl;
      while (true) {
        Status s = savepoint ? registry_.CheckEpoch(shard, epoch)
                             : registry_.RecordCheckpoint(shard, epoch, id, path);
        if (s.ok() || !s.retryable() || std::chrono::steady_clock::now() >= deadline) return s;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    };
    auto job = factory_(shard, epoch, claimed->checkpoint, std::move(fence));
    if (!job.ok()) {
      (void)registry_.Release(shard, options_.member, epoch);
      return job.status().WithContext("shard " + std::to_string(shard));
    }
    LogInfo("worker " + options_.member + " runs shard " + std::to_string(shard) + " at epoch " +
            std::to_string(epoch) +
            (claimed->checkpoint ? " from checkpoint " + std::to_string(claimed->checkpoint->id)
                                 : std::string(" from the start")));
    auto run = std::make_unique<Running>();
    run->epoch = epoch;
    run->job = std::move(job).value();
    Running* r = run.get();
    run->thread = std::thread([this, r] {
      Status status = r->job->Run();
      {
        std::lock_guard lock(mu_);
        r->status = std::move(status);
        r->ended = true;
      }
      cv_.notify_all();
    });
    std::lock_guard lock(mu_);
    running_[shard] = std::move(run);
  }
  return Status::OK();
}

void Worker::StartHandoff(Running* run) {
  run->handing_off = true;
  run->handoff_start = std::chrono::steady_clock::now();
  run->job->StopWithFinalCheckpoint([this, run] {
    {
      std::lock_guard lock(mu_);
      run->stopping = true;
    }
    cv_.notify_all();
  });
}

bool Worker::AnyStoppingUnreleased() const {
  for (const auto& [shard, run] : running_) {
    if (run->stopping && !run->release_tried) return true;
  }
  return false;
}

void Worker::ReleaseStopping() {
  std::vector<std::pair<int, Running*>> stopping;
  {
    std::lock_guard lock(mu_);
    for (auto& [shard, run] : running_) {
      if (run->stopping && !run->release_tried) {
        run->release_tried = true;
        stopping.emplace_back(shard, run.get());
      }
    }
  }
  // Runs leave running_ only through ReapEnded and CancelAll, which run on this same thread
  // (the loop's, or Stop's once the loop has ended): the pointers stay valid.
  for (auto& [shard, run] : stopping) {
    Status s = registry_.Release(shard, options_.member, run->epoch);
    if (!s.ok()) continue;  // released when the run has ended (retried until etcd hears it)
    std::lock_guard lock(mu_);
    run->released_early = true;
  }
}

void Worker::ReapEnded() {
  std::vector<std::pair<int, std::unique_ptr<Running>>> ended;
  {
    std::lock_guard lock(mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->ended) {
        ended.emplace_back(it->first, std::move(it->second));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [shard, run] : ended) {
    if (run->thread.joinable()) run->thread.join();
    if (!run->status.ok()) {
      ++shard_failures_;
      LogWarn("worker " + options_.member + ": shard " + std::to_string(shard) +
              " failed: " + run->status.ToString());
    }
    if (run->handing_off && run->status.ok()) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - run->handoff_start);
      LogInfo("worker " + options_.member + ": shard " + std::to_string(shard) + " handed off (" +
              std::to_string(ms.count()) + " ms from the handoff's start to the run's end)");
    }
    // Released when it stopped (its next owner may be running it already): nothing to settle.
    if (!run->released_early) {
      unreleased_[shard] = {run->epoch, run->status.ok() && run->job->finished(), false};
    }
    // A run that failed may have lost its shard (a fence refused it): its files go once a
    // newer owner has checkpointed. If it failed otherwise, no newer owner will checkpoint
    // before the next claim, and it is given up after a while.
    if (!run->status.ok()) KeepUntilSuperseded(shard, std::move(run));
  }
  SettleEnded();
}

void Worker::SettleEnded() {
  for (auto it = unreleased_.begin(); it != unreleased_.end();) {
    const int shard = it->first;
    Ended& e = it->second;
    Status s = e.finished ? registry_.MarkFinished(shard, e.epoch) : Status::OK();
    if (s.code() == StatusCode::kFailedPrecondition) {
      // A newer owner has it (this process's lease lapsed meanwhile): not ours to mark.
      LogWarn("worker " + options_.member + ": " + s.ToString());
      s = Status::OK();
    }
    if (s.ok()) {
      e.finished = false;  // recorded: not again
      s = registry_.Release(shard, options_.member, e.epoch);
    }
    if (s.ok()) {
      if (e.warned) {
        LogInfo("worker " + options_.member + ": released shard " + std::to_string(shard));
      }
      it = unreleased_.erase(it);
      continue;
    }
    if (!e.warned) {
      LogWarn("worker " + options_.member + ": releasing shard " + std::to_string(shard) + ": " +
              s.ToString() + "; trying again");
      e.warned = true;
    }
    ++it;
  }
}

void Worker::CancelAll(bool lost) {
  std::map<int, std::unique_ptr<Running>> runs;
  {
    std::lock_guard lock(mu_);
    runs.swap(running_);
  }
  for (auto& [shard, run] : runs) run->job->Cancel();
  for (auto& [shard, run] : runs) run->thread.join();
  if (lost) {
    for (auto& [shard, run] : runs) KeepUntilSuperseded(shard, std::move(run));
    DeleteSuperseded();
  }
}

void Worker::KeepUntilSuperseded(int shard, std::unique_ptr<Running> run) {
  const auto wait = std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(60),
                                                                  options_.lease_ttl * 10);
  lost_.push_back({shard, std::move(run), std::chrono::steady_clock::now() + wait});
}

void Worker::DeleteSuperseded() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = lost_.begin(); it != lost_.end();) {
    auto state = registry_.Get(it->shard);
    if (state.ok() && state->checkpoint && state->checkpoint->epoch > it->run->epoch) {
      it->run->job->DeleteLostRunFiles(state->checkpoint->epoch);
      it = lost_.erase(it);
    } else if ((state.ok() && state->finished) || now >= it->give_up) {
      it = lost_.erase(it);  // its files stay for the next owner's sweep or weir checkpoints gc
    } else {
      ++it;
    }
  }
}

void Worker::Stop() {
  if (!loop_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  loop_.join();
  if (standby_) standby_->ReleaseAll();
  // Asked now, not at the keeper's next renewal: a process resumed after a long pause may stop
  // (its input ended meanwhile) before its keeper has run.
  const Result<int64_t> ttl = etcd_.KeepAlive(lease_->lease());
  if (lease_->lost() || (ttl.ok() && *ttl <= 0)) {
    // Nothing it runs is its own any more: no final checkpoint (the fence would refuse it), no
    // release (etcd already freed the shards).
    LogWarn("worker " + options_.member + ": lease lost; stopping every shard it ran");
    CancelAll(/*lost=*/true);
    leader_ = false;
    lease_->Abandon();
    return;
  }
  // Hand everything off: final checkpoints, then releases, so that the others claim at once
  // instead of after the lease's TTL.
  {
    std::unique_lock lock(mu_);
    for (auto& [shard, run] : running_) {
      if (!run->handing_off && !run->ended) StartHandoff(run.get());
    }
    while (true) {
      cv_.wait(lock, [&] {
        if (AnyStoppingUnreleased()) return true;
        for (const auto& [shard, run] : running_) {
          if (!run->ended) return false;
        }
        return true;
      });
      if (!AnyStoppingUnreleased()) break;
      lock.unlock();
      ReleaseStopping();
      lock.lock();
    }
  }
  ReapEnded();
  if (standby_ && options_.discard_local_state) {
    // Nobody will take a shard over here, and nothing runs any more: the standby copies (and
    // what an unfinished one fetched) go.
    for (int shard = 0; shard < options_.shards; ++shard) options_.discard_local_state(shard);
  }
  (void)etcd_.Txn({Compare::Value(Key("leader"), options_.member)},
                  {Operation::Delete(Key("leader"))});
  (void)etcd_.Delete(Key("members/" + options_.member));
  leader_ = false;
  lease_->Stop();
  // Revoked: nothing to take back after a restart.
  if (!options_.lease_file.empty()) {
    if (Status s = DeleteLeaseFile(options_.lease_file); !s.ok() && !s.IsNotFound()) {
      LogWarn("worker " + options_.member + ": " + s.ToString());
    }
  }
}

void Worker::Kill() {
  if (!loop_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  loop_.join();
  if (standby_) standby_->ReleaseAll();  // as a crash would: the copies stay
  CancelAll(/*lost=*/false);
  leader_ = false;
  lease_->Abandon();
}

bool Worker::WaitUntilJobFinished(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto shards = registry_.List(options_.shards);
    if (shards.ok()) {
      bool all = true;
      for (const ShardState& s : *shards) all = all && s.finished;
      if (all) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(options_.poll_interval);
  }
}

void Worker::VisitRunning(const std::function<void(int, int64_t, bool, ShardJob&)>& visit) const {
  std::lock_guard lock(mu_);
  for (const auto& [shard, run] : running_) {
    if (!run->ended) visit(shard, run->epoch, run->handing_off, *run->job);
  }
}

std::vector<int> Worker::running_shards() const {
  std::lock_guard lock(mu_);
  std::vector<int> out;
  for (const auto& [shard, run] : running_) {
    if (!run->ended && !run->handing_off) out.push_back(shard);
  }
  return out;
}

}  // namespace weir::cluster
