// A randomized model of concurrent incremental checkpoints: the real coordinator, store, registry
// and cleaner on a real directory, driven by modelled backends whose "databases" gain and compact
// SSTs, whose barriers, asynchronous parts and notifications arrive in random order. Up to 4
// checkpoints are in flight; they complete in any order, are declined, expire, are aborted, and
// the process restarts (the registry is rebuilt from disk). After every step:
// - every file a retained checkpoint references exists (nothing retained is ever lost), and
// - every file on disk is referenced, held, written by a checkpoint still in flight, or an orphan
//   the model knows a crash left behind (nothing leaks silently).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "checkpoint/checkpoint_coordinator.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/incremental_upload_plan.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

constexpr int kBackends = 2;

std::string BackendId(int b) { return "op_" + std::to_string(b); }

// One modelled backend: the SSTs of its database and what it knows of completed checkpoints.
struct ModelBackend {
  std::map<std::string, uint64_t> live;  // local SST name -> size
  uint64_t next_file_number = 1;
  std::unique_ptr<SstBaseTracker> tracker = std::make_unique<SstBaseTracker>();
  std::deque<uint64_t> barriers;  // checkpoints whose synchronous part is still to run
  std::deque<std::pair<uint64_t, bool>> notifications;  // (id, completed) not yet delivered
};

// A synchronous part that ran: its files and base, waiting for the asynchronous part.
struct InFlight {
  int backend;
  uint64_t checkpoint_id;
  std::vector<LocalFile> files;
  SstBaseTracker::Base base;
};

class Listener : public CheckpointListener {
 public:
  explicit Listener(std::vector<ModelBackend>* backends) : backends_(backends) {}
  void NotifyCheckpointComplete(uint64_t id) override {
    for (auto& b : *backends_) b.notifications.push_back({id, true});
  }
  void NotifyCheckpointAborted(uint64_t id) override {
    for (auto& b : *backends_) b.notifications.push_back({id, false});
  }

 private:
  std::vector<ModelBackend>* backends_;
};

class ConcurrentCheckpointsModelTest
    : public ::testing::TestWithParam<std::tuple<int /*num_retained*/, int /*max_concurrent*/>> {
 protected:
  void SetUp() override {
    fs_ = NewPosixFileSystem();
    storage_.emplace(fs_, dir_.Sub("job"));
    backends_.resize(kBackends);
    Start();
  }

  void Start() {
    CoordinatorOptions options;
    options.job_id = "model";
    options.num_retained = std::get<0>(GetParam());
    coordinator_ = std::make_unique<CheckpointCoordinator>(*storage_, options);
    listener_ = std::make_unique<Listener>(&backends_);
    coordinator_->AddListener(listener_.get());
    ASSERT_TRUE(coordinator_->Recover().ok());
  }

  // The process dies: nothing in flight survives; what it wrote for checkpoints in flight (and
  // what it kept for them) stays behind as orphans, for gc.
  void Restart() {
    coordinator_->cleaner().WaitIdle();
    const std::set<std::string> retained = RetainedFiles();
    for (const auto& rel : AllFiles()) {
      if (!retained.count(rel)) orphans_.insert(rel);
    }
    coordinator_.reset();
    in_flight_.clear();
    uploads_of_pending_.clear();
    Start();
    // Every backend restores the latest checkpoint (claim): its SSTs are the database and the base.
    const auto latest = coordinator_->Latest();
    for (int b = 0; b < kBackends; ++b) {
      auto& backend = backends_[b];
      backend.live.clear();
      backend.barriers.clear();
      backend.notifications.clear();
      std::map<std::string, StateFileHandle> ssts;
      for (const auto& h : latest ? latest->backends : std::vector<KeyedStateHandle>()) {
        if (h.backend_id != BackendId(b)) continue;
        for (const auto& f : h.files) {
          if (f.role != StateFileRole::kShared) continue;
          backend.live[f.local_name] = f.size;
          ssts[f.local_name] = f;
        }
      }
      backend.tracker->SetBase(latest ? latest->checkpoint_id : 0, std::move(ssts));
    }
  }

  void Trigger() {
    if (coordinator_->PendingIds().size() >= static_cast<size_t>(std::get<1>(GetParam()))) return;
    std::vector<std::string> tasks;
    for (int b = 0; b < kBackends; ++b) tasks.push_back(BackendId(b));
    auto id = coordinator_->StartCheckpoint(CheckpointKind::kIncremental, tasks, 0);
    ASSERT_TRUE(id.ok());
    for (auto& b : backends_) b.barriers.push_back(*id);
  }

  void SyncPart(int b) {
    auto& backend = backends_[b];
    if (backend.barriers.empty()) return;
    const uint64_t id = backend.barriers.front();
    backend.barriers.pop_front();
    InFlight f{b, id, {}, backend.tracker->Current()};
    for (const auto& [name, size] : backend.live) f.files.push_back({name, size});
    f.files.push_back({"MANIFEST-000001", 10});
    in_flight_.push_back(std::move(f));
  }

  // The asynchronous part: upload what is new, then acknowledge (or decline, or crash between).
  void AsyncPart(size_t index, std::mt19937_64& rng) {
    InFlight f = in_flight_[index];
    in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(index));
    const uint64_t id = f.checkpoint_id;
    const std::string backend_id = BackendId(f.backend);
    const IncrementalUploadPlan plan = PlanIncrementalUpload(f.files, f.base.sst_files);
    KeyedStateHandle h;
    h.backend_id = backend_id;
    h.key_group_range = KeyGroupRange::All(128);
    h.kind = BackendSnapshotKind::kIncremental;
    std::map<std::string, StateFileHandle> ssts;
    for (const auto& reused : plan.reused) {
      h.files.push_back(reused);
      ssts[reused.local_name] = reused;
    }
    ASSERT_TRUE(storage_->fs().CreateDirs(storage_->SharedDir()).ok());
    ASSERT_TRUE(storage_->CreateCheckpointDir(id).ok());
    for (const auto& local : plan.new_shared) {
      const std::string rel = JoinPath(
          kSharedDirName, backend_id + "-" + local.name + "-" + std::to_string(upload_counter_++));
      Write(rel, local.size);
      StateFileHandle handle{rel, local.size, 0, StateFileRole::kShared, local.name, id};
      ssts[local.name] = handle;
      h.files.push_back(handle);
      uploads_of_pending_[id].insert(rel);
    }
    for (const auto& local : plan.private_files) {
      const std::string dir = JoinPath(CheckpointStorage::CheckpointDirName(id), backend_id);
      ASSERT_TRUE(storage_->fs().CreateDirs(*storage_->ResolveRelative(dir)).ok());
      const std::string rel = JoinPath(dir, local.name);
      Write(rel, local.size);
      h.files.push_back({rel, local.size, 0, StateFileRole::kPrivate, local.name, id});
    }
    backends_[f.backend].tracker->Record(id, std::move(ssts));
    switch (rng() % 40) {
      case 0:  // the process dies after uploading, before acknowledging
        for (const auto& file : h.files) {
          if (file.written_by_checkpoint == id) orphans_.insert(file.path);
        }
        Restart();
        return;
      case 1:  // the upload failed: the strategy deletes what it wrote, the task declines
        for (const auto& file : h.files) {
          if (file.written_by_checkpoint == id) {
            (void)storage_->fs().DeleteFile(*storage_->ResolveRelative(file.path));
          }
        }
        coordinator_->Abort(id, "declined by " + backend_id);
        return;
      default: {
        TaskStateSnapshot snapshot;
        snapshot.task_id = backend_id;
        snapshot.backends.push_back(h);
        auto r = coordinator_->Acknowledge(id, snapshot, 0);
        if (r.ok() && r->has_value()) ++completions_;
        if (!r.ok() && r.status().code() == StatusCode::kAborted) ++refused_acks_;
      }
    }
  }

  void Deliver(int b) {
    auto& backend = backends_[b];
    if (backend.notifications.empty()) return;
    const auto [id, completed] = backend.notifications.front();
    backend.notifications.pop_front();
    if (completed)
      backend.tracker->Complete(id);
    else
      backend.tracker->Abort(id);
  }

  // The database flushes a new SST, or compacts a few into one.
  void Mutate(int b, std::mt19937_64& rng) {
    auto& backend = backends_[b];
    if (backend.live.size() >= 3 && rng() % 3 == 0) {
      for (int i = 0; i < 3; ++i) {
        auto it = backend.live.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rng() % backend.live.size()));
        backend.live.erase(it);
      }
    }
    backend.live[std::to_string(backend.next_file_number++) + ".sst"] = 1 + rng() % 50;
  }

  void Write(const std::string& rel, uint64_t size) {
    auto file = storage_->fs().NewWritableFile(*storage_->ResolveRelative(rel));
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_TRUE((*file)->Append(std::string(size, 'x')).ok());
    ASSERT_TRUE((*file)->Close().ok());
  }

  std::set<std::string> AllFiles() {
    std::set<std::string> out;
    std::function<void(const std::string&)> walk = [&](const std::string& rel) {
      auto entries = storage_->fs().ListDir(JoinPath(storage_->job_dir(), rel));
      if (!entries.ok()) return;
      for (const auto& e : *entries) {
        const std::string child = rel.empty() ? e.name : JoinPath(rel, e.name);
        if (e.is_directory)
          walk(child);
        else
          out.insert(child);
      }
    };
    walk("");
    return out;
  }

  // Files the retained checkpoints reference, their `_metadata` included.
  std::set<std::string> RetainedFiles() {
    std::set<std::string> files;
    for (const auto& m : coordinator_->Retained()) {
      files.insert(CheckpointStorage::RelativeCheckpointFile(m.checkpoint_id, kMetadataFileName));
      for (const auto& h : m.backends)
        for (const auto& f : h.files) files.insert(f.path);
    }
    return files;
  }

  void CheckInvariants(int step) {
    coordinator_->cleaner().WaitIdle();
    const std::set<std::string> on_disk = AllFiles();
    // Nothing a retained checkpoint references is lost.
    for (const auto& m : coordinator_->Retained()) {
      ASSERT_TRUE(on_disk.count(
          CheckpointStorage::RelativeCheckpointFile(m.checkpoint_id, kMetadataFileName)))
          << "step " << step << ": _metadata of retained checkpoint " << m.checkpoint_id;
      for (const auto& h : m.backends)
        for (const auto& f : h.files)
          ASSERT_TRUE(on_disk.count(f.path))
              << "step " << step << ": checkpoint " << m.checkpoint_id << " lost " << f.path;
    }
    // Nothing leaks unaccounted.
    const std::vector<uint64_t> pending = coordinator_->PendingIds();
    const std::set<uint64_t> pending_set(pending.begin(), pending.end());
    const std::set<std::string> held = coordinator_->HeldSharedFiles();
    const std::set<std::string> retained = RetainedFiles();
    for (const auto& rel : on_disk) {
      if (rel == kJobMarkerFileName || retained.count(rel) || orphans_.count(rel) ||
          held.count(rel))
        continue;
      bool of_pending = false;
      for (uint64_t id : pending_set) {
        of_pending |= uploads_of_pending_[id].count(rel) > 0 ||
                      rel.rfind(CheckpointStorage::CheckpointDirName(id) + "/", 0) == 0;
      }
      ASSERT_TRUE(of_pending) << "step " << step << ": " << rel << " leaked";
    }
  }

  testing::TempDir dir_ = testing::TempDir::InMemory();
  std::shared_ptr<FileSystem> fs_;
  std::optional<CheckpointStorage> storage_;
  std::vector<ModelBackend> backends_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::vector<InFlight> in_flight_;
  std::map<uint64_t, std::set<std::string>> uploads_of_pending_;
  std::set<std::string> orphans_;
  uint64_t upload_counter_ = 0;
  int completions_ = 0;
  int refused_acks_ = 0;
};

TEST_P(ConcurrentCheckpointsModelTest, NoRetainedFileIsLostAndNoneLeaks) {
  std::mt19937_64 rng(1000 + std::get<0>(GetParam()) * 10 + std::get<1>(GetParam()));
  constexpr int kSteps = 3000;
  for (int step = 0; step < kSteps; ++step) {
    const int b = static_cast<int>(rng() % kBackends);
    const int choice = static_cast<int>(rng() % 100);
    if (choice < 15) {
      Trigger();
    } else if (choice < 40) {
      SyncPart(b);
    } else if (choice < 65) {
      if (!in_flight_.empty()) AsyncPart(rng() % in_flight_.size(), rng);
    } else if (choice < 85) {
      Deliver(b);
    } else if (choice < 97) {
      Mutate(b, rng);
    } else if (choice < 99) {
      const auto pending = coordinator_->PendingIds();
      if (!pending.empty()) coordinator_->Abort(pending[rng() % pending.size()], "expired");
    } else {
      Restart();
    }
    ASSERT_NO_FATAL_FAILURE(CheckInvariants(step));
  }
  EXPECT_GT(completions_, 50) << "the model must exercise completions";
  RecordProperty("completions", completions_);
  RecordProperty("refused_acknowledgements", refused_acks_);
}

INSTANTIATE_TEST_SUITE_P(RetainedAndConcurrent, ConcurrentCheckpointsModelTest,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(2, 4)));

}  // namespace
}  // namespace weir
