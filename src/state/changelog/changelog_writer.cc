#include "state/changelog/changelog_writer.h"

#include <algorithm>
#include <atomic>

#include "common/checksum.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/random_hex.h"
#include "common/thread_name.h"
#include "io/file_system.h"

namespace weir {

// --- StateChangelog

StateChangelog::StateChangelog(std::shared_ptr<ChangelogWriter> writer, std::string backend_id)
    : writer_(std::move(writer)),
      backend_id_(std::move(backend_id)),
      block_bytes_(static_cast<size_t>(
          std::clamp<uint64_t>(writer_->options_.persist_size_threshold / 16, 1, kMaxBlockBytes))),
      held_(ChangeBlock::WithCapacity(block_bytes_)) {}

StateChangelog::~StateChangelog() {
  writer_->Unregister(this);
  writer_->free_block_bytes_.fetch_sub(static_cast<int64_t>(free_.size() * block_bytes_),
                                       std::memory_order_relaxed);
}

uint32_t StateChangelog::StateId(const std::string& name) {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(ids_.size());
  ids_.emplace(name, id);
  std::lock_guard<std::mutex> lock(mu_);
  states_.emplace(id, name);
  return id;
}

void StateChangelog::AppendAfterHandOver(StateChangeOp op, uint32_t state_id, int key_group,
                                         std::string_view key, std::string_view ns,
                                         std::string_view user_key, std::string_view value,
                                         size_t most) {
  HandOver();
  if (most <= held_.capacity) {
    char* end = EncodeStateChange(held_.data.get(), op, state_id, key_group, key, ns, user_key,
                                  value, /*same_context=*/false, &context_);
    context_key_group_ = key_group;
    held_.size = static_cast<size_t>(end - held_.data.get());
    held_.count = 1;
    return;
  }
  // Larger than a block: a block of its own, handed over at once.
  ChangeBlock own = ChangeBlock::WithCapacity(most);
  char* end = EncodeStateChange(own.data.get(), op, state_id, key_group, key, ns, user_key, value);
  own.size = static_cast<size_t>(end - own.data.get());
  own.count = 1;
  ChangeBlock unused;
  (void)AddToPending(std::move(own), &unused);
  if (unused.data) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(unused));
    writer_->free_block_bytes_.fetch_add(static_cast<int64_t>(block_bytes_),
                                         std::memory_order_relaxed);
  }
}

bool StateChangelog::AddToPending(ChangeBlock&& block, ChangeBlock* next) {
  if (failed_.load(std::memory_order_relaxed)) return false;
  const uint64_t bytes = block.size;
  writer_->WaitForRoom(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A failed log's changes can never be durable: they are dropped, not kept in memory.
    if (!error_.ok()) return false;
    pending_count_ += block.count;
    pending_bytes_ += bytes;
    pending_.push_back(std::move(block));
    if (!free_.empty()) {
      *next = std::move(free_.back());
      free_.pop_back();
      writer_->free_block_bytes_.fetch_sub(static_cast<int64_t>(block_bytes_),
                                           std::memory_order_relaxed);
    }
  }
  // Outside mu_: the writer takes its own lock first, then a log's.
  writer_->AddPendingBytes(bytes);
  return true;
}

void StateChangelog::HandOver() {
  if (held_.count == 0) return;
  ChangeBlock next;
  if (!AddToPending(std::move(held_), &next)) {
    // Dropped (the log failed); the block is kept if it was not taken.
    if (!held_.data) held_ = ChangeBlock::WithCapacity(block_bytes_);
    held_.size = 0;
    held_.count = 0;
    return;
  }
  held_ = next.data ? std::move(next) : ChangeBlock::WithCapacity(block_bytes_);
}

std::vector<ChangeBlock> StateChangelog::TakePending(uint64_t* count, uint64_t* bytes) {
  *count = pending_count_;
  *bytes = pending_bytes_;
  pending_count_ = 0;
  pending_bytes_ = 0;
  std::vector<ChangeBlock> taken;
  taken.swap(pending_);
  return taken;
}

void StateChangelog::Recycle(std::vector<ChangeBlock>* blocks) {
  // Kept up to max_in_flight for all logs of the process: blocks come back only from the writer,
  // so the logs keep what their busiest moments had in flight. Freed blocks cost the writer an
  // unmapping and the owner fresh pages to fault in: keeping a batch's worth per log (10 MiB)
  // left 15% of the writer's time in unmapping.
  const auto most = static_cast<int64_t>(writer_->options_.max_in_flight);
  const auto bytes = static_cast<int64_t>(block_bytes_);
  for (ChangeBlock& b : *blocks) {
    if (b.capacity != block_bytes_) continue;
    if (writer_->free_block_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > most) {
      writer_->free_block_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
      continue;
    }
    b.size = 0;
    b.count = 0;
    free_.push_back(std::move(b));
  }
  // The others stay in `blocks`, freed by the caller without the lock.
}

std::shared_future<Status> StateChangelog::Persist(uint64_t sequence) {
  HandOver();
  return writer_->Request(this, sequence);
}

uint64_t StateChangelog::persisted_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return persisted_;
}

Result<std::vector<ChangelogSegment>> StateChangelog::Segments(uint64_t after,
                                                               uint64_t upto) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ChangelogSegment> out;
  if (upto <= after) return out;
  if (!error_.ok()) return error_;
  if (persisted_ < upto) {
    return Status::Internal("state-change log of backend " + backend_id_ + ": changes up to " +
                            std::to_string(upto) + " asked for, persisted up to " +
                            std::to_string(persisted_));
  }
  uint64_t next = after + 1;
  for (LoggedSegment& logged : segments_) {
    const ChangelogSegment& s = logged.segment;
    if (s.last_sequence < next) continue;
    if (s.first_sequence > next) break;
    out.push_back(s);
    logged.handed_out = true;  // a checkpoint may reference its file from now on
    next = s.last_sequence + 1;
    if (next > upto) break;
  }
  if (next <= upto) {
    return Status::Internal("state-change log of backend " + backend_id_ + ": changes from " +
                            std::to_string(next) + " were truncated");
  }
  return out;
}

void StateChangelog::Truncate(uint64_t sequence) {
  std::vector<std::pair<std::string, bool>> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!segments_.empty() && segments_.front().segment.last_sequence <= sequence) {
      released.emplace_back(segments_.front().segment.file.path, segments_.front().handed_out);
      segments_.pop_front();
    }
  }
  // Outside mu_: the writer takes its own lock first, then a log's.
  if (!released.empty()) writer_->Release(released);
}

// --- ChangelogWriter

std::shared_ptr<ChangelogWriter> ChangelogWriter::Start(CheckpointStorage storage,
                                                        ChangelogWriterOptions options) {
  std::shared_ptr<ChangelogWriter> w(new ChangelogWriter(std::move(storage), options));
  for (int i = 0; i < std::max(1, options.upload_threads); ++i) {
    w->threads_.emplace_back([raw = w.get()] { raw->Loop(); });
  }
  return w;
}

ChangelogWriter::ChangelogWriter(CheckpointStorage storage, ChangelogWriterOptions options)
    : storage_(std::move(storage)), options_(options), writer_id_(RandomHex(16)) {}

ChangelogWriter::~ChangelogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  room_cv_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& w : waiters_) w->done.set_value(Status::Aborted("the state-change log closed"));
  // What the logs released last (their backends closed just before).
  DeleteUnneeded(std::move(unneeded_));
}

std::unique_ptr<StateChangelog> ChangelogWriter::Register(const std::string& backend_id) {
  std::unique_ptr<StateChangelog> log(new StateChangelog(shared_from_this(), backend_id));
  std::lock_guard<std::mutex> lock(mu_);
  logs_.push_back(log.get());
  return log;
}

void ChangelogWriter::Unregister(StateChangelog* log) {
  std::unique_lock<std::mutex> lock(mu_);
  // A batch being written, or written and waiting for an earlier one, may hold its chunk.
  idle_cv_.wait(lock, [&] { return in_flight_ == 0 && written_.empty(); });
  std::erase(logs_, log);
  {
    // Its changes not taken are dropped with it: they no longer count against the limit.
    std::lock_guard<std::mutex> log_lock(log->mu_);
    in_flight_bytes_.fetch_sub(static_cast<int64_t>(log->pending_bytes_),
                               std::memory_order_relaxed);
    // Its segments: a checkpoint that took one owns the file; the others it no longer needs.
    for (const auto& logged : log->segments_) {
      ReleaseLocked(logged.segment.file.path, logged.handed_out);
    }
    log->segments_.clear();
  }
  if (!unneeded_.empty()) {
    lock.unlock();
    cv_.notify_one();
    lock.lock();
  }
  if (blocked_ > 0) {
    lock.unlock();
    room_cv_.notify_all();
    lock.lock();
  }
  std::erase_if(waiters_, [&](const std::shared_ptr<Waiter>& w) {
    if (w->log != log) return false;
    w->done.set_value(Status::Aborted("backend " + log->backend_id() + " closed"));
    return true;
  });
}

std::shared_future<Status> ChangelogWriter::Request(StateChangelog* log, uint64_t sequence) {
  auto waiter = std::make_shared<Waiter>();
  waiter->log = log;
  waiter->sequence = sequence;
  std::shared_future<Status> done = waiter->done.get_future().share();
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::mutex> log_lock(log->mu_);
    if (!log->error_.ok()) {
      waiter->done.set_value(log->error_);
      return done;
    }
    if (log->persisted_ >= sequence) {
      waiter->done.set_value(Status::OK());
      return done;
    }
    // A sequence number not appended yet would never be persisted: refused, not waited for.
    const uint64_t appended = log->pending_first_ + log->pending_count_ - 1;
    if (sequence > appended) {
      waiter->done.set_value(Status::InvalidArgument(
          "state-change log of backend " + log->backend_id_ + ": change " +
          std::to_string(sequence) + " asked for, " + std::to_string(appended) + " appended"));
      return done;
    }
    waiters_.push_back(waiter);
    // Changes already in a batch being written are durable when it is; otherwise the first
    // request starts the persist delay (later ones share it).
    if (requested_ || log->pending_first_ > sequence) return done;
    requested_ = true;
    first_request_ = std::chrono::steady_clock::now();
  }
  // The thread keeping time notices the request within the persist delay: waking it here, in
  // the checkpoint's synchronous part, could hand it the task's core (the part took 4–12 ms p99
  // at 1 s and 200 ms intervals so). Without a delay there is nothing to wait for.
  if (options_.persist_delay.count() == 0) cv_.notify_one();
  return done;
}

void ChangelogWriter::WaitForRoom(uint64_t n) {
  const auto limit = static_cast<int64_t>(options_.max_in_flight);
  const auto has_room = [&] {
    const int64_t now = in_flight_bytes_.load(std::memory_order_relaxed);
    return now <= 0 || now + static_cast<int64_t>(n) <= limit;
  };
  if (has_room()) return;
  std::unique_lock<std::mutex> lock(mu_);
  ++blocked_;
  // A writer thread takes what is pending now, whatever the size threshold (see Loop). Woken
  // without the lock, as everywhere here.
  lock.unlock();
  cv_.notify_all();
  lock.lock();
  room_cv_.wait(lock, [&] { return stop_ || has_room(); });
  --blocked_;
}

void ChangelogWriter::AddPendingBytes(uint64_t n) {
  in_flight_bytes_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  // Most appends only count; the one that crosses the threshold wakes the writer.
  const uint64_t before = pending_bytes_.fetch_add(n, std::memory_order_relaxed);
  if (before < options_.persist_size_threshold && before + n >= options_.persist_size_threshold) {
    // The lock orders this with a writer between looking at the count and waiting; the wake-up
    // comes after it (see PersistBatch).
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_one();
  }
}

uint64_t ChangelogWriter::files_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_written_;
}

uint64_t ChangelogWriter::bytes_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_written_;
}

void ChangelogWriter::Loop() {
  SetCurrentThreadName("weir-dstl");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!unneeded_.empty()) {
      std::vector<std::string> paths;
      paths.swap(unneeded_);
      lock.unlock();
      DeleteUnneeded(std::move(paths));
      lock.lock();
      continue;
    }
    const uint64_t pending = pending_bytes_.load(std::memory_order_relaxed);
    // An owner waiting for room (WaitForRoom) needs what is pending written, however little.
    const bool full = pending >= options_.persist_size_threshold || (blocked_ > 0 && pending > 0);
    const auto due = first_request_ + options_.persist_delay;
    if (full || (requested_ && std::chrono::steady_clock::now() >= due)) {
      PersistBatch(lock);
      continue;
    }
    // One thread keeps time: it looks for a request every persist delay (requests do not wake
    // it) and waits for a request's delay; the others wait for more work.
    if (!timing_ && options_.persist_delay.count() > 0) {
      timing_ = true;
      cv_.wait_until(lock,
                     requested_ ? due : std::chrono::steady_clock::now() + options_.persist_delay);
      timing_ = false;
    } else {
      cv_.wait(lock);
    }
  }
}

// A batch taken from the logs: their chunks, then the file they were written to.
struct ChangelogWriter::Batch {
  struct Taken {
    StateChangelog* log = nullptr;
    uint64_t first_sequence = 0;
    uint64_t count = 0;
    uint64_t bytes = 0;
    std::vector<std::pair<uint32_t, std::string>> states;
    std::vector<ChangeBlock> blocks;
    uint64_t last_sequence() const { return first_sequence + count - 1; }
  };
  std::vector<Taken> taken;
  Status status;
  StateFileHandle file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // offset, length of each chunk
};

void ChangelogWriter::PersistBatch(std::unique_lock<std::mutex>& lock) {
  requested_ = false;
  auto batch = std::make_unique<Batch>();
  for (StateChangelog* log : logs_) {
    std::lock_guard<std::mutex> log_lock(log->mu_);
    if (log->pending_count_ == 0 || !log->error_.ok()) continue;
    Batch::Taken t;
    t.log = log;
    t.first_sequence = log->pending_first_;
    t.blocks = log->TakePending(&t.count, &t.bytes);
    t.states.assign(log->states_.begin(), log->states_.end());
    log->pending_first_ += t.count;
    batch->taken.push_back(std::move(t));
  }
  pending_bytes_.store(0, std::memory_order_relaxed);
  const uint64_t number = next_batch_++;
  if (!batch->taken.empty()) {
    ++in_flight_;
    const std::string relative = storage_.RelativeChangelogFile(
        "changelog-" + writer_id_ + "-" + std::to_string(next_file_++) + ".dstl");
    // Written without the lock: other threads take and write the next batches meanwhile, one of
    // them keeping time in this one's stead. Woken after the unlock: woken under it, a thread
    // could take this one's core while it holds mu_, which a task's request then waits for.
    const bool wake_timer = !timing_;
    lock.unlock();
    if (wake_timer) cv_.notify_one();
    Result<StateFileHandle> written = Status::Internal("not written");
    {
      // This thread's buffers, kept from batch to batch (StateChangelog::Recycle says why). The
      // file's bytes are page-aligned: the direct write takes them where they lie.
      thread_local PageAlignedBuffer bytes;
      thread_local std::string compressed;
      thread_local std::string staging;
      std::vector<std::string_view> records;
      StreamingChecksum checksum;
      bytes.clear();
      bytes.append(EncodeChangelogHeader());
      checksum.Update(bytes);
      for (const auto& t : batch->taken) {
        records.clear();
        for (const ChangeBlock& b : t.blocks) records.push_back(b.view());
        ChangelogChunkPieces chunk;
        chunk.backend_id = t.log->backend_id_;  // the log stays registered while in flight
        chunk.first_sequence = t.first_sequence;
        chunk.count = t.count;
        chunk.states = t.states;
        chunk.records = records;
        const size_t at = bytes.size();
        AppendChangelogChunk(&bytes, chunk, options_.compression, &compressed, &staging, &checksum);
        batch->ranges.emplace_back(at, bytes.size() - at);
      }
      PageAlignedBuffer::Fence();  // the records' stores, before the disk reads them
      written = WriteFile(relative, bytes, checksum.Digest());
    }
    lock.lock();
    --in_flight_;
    if (written.ok()) {
      batch->file = *written;
      ++files_written_;
      bytes_written_ += batch->file.size;
    } else {
      batch->status = written.status().WithContext("state-change log batch " + relative);
      LogError(batch->status.ToString());
    }
  }
  written_.emplace(number, std::move(batch));
  std::vector<std::unique_ptr<Batch>> done;
  std::vector<Answer> answers;
  CommitInOrder(&done, &answers);
  idle_cv_.notify_all();
  const bool wake_blocked = blocked_ > 0;
  // The applied batches are freed, and the answered requests told, without the lock (the
  // batches' records went back to their logs).
  lock.unlock();
  if (wake_blocked) room_cv_.notify_all();
  for (Answer& a : answers) a.waiter->done.set_value(std::move(a.status));
  answers.clear();
  done.clear();
  lock.lock();
}

void ChangelogWriter::CommitInOrder(std::vector<std::unique_ptr<Batch>>* done,
                                    std::vector<Answer>* answers) {
  for (auto it = written_.find(next_commit_); it != written_.end();
       it = written_.find(next_commit_)) {
    Batch& batch = *it->second;
    int64_t settled = 0;  // bytes no longer in flight
    for (size_t i = 0; i < batch.taken.size(); ++i) {
      Batch::Taken& taken = batch.taken[i];
      StateChangelog* log = taken.log;
      std::lock_guard<std::mutex> log_lock(log->mu_);
      settled += static_cast<int64_t>(taken.bytes);
      log->Recycle(&taken.blocks);
      if (!batch.status.ok()) log->error_ = batch.status;
      // After a failed batch a log's later changes are not durable in order: none counts, and
      // those it holds are dropped (AddToPending takes no more).
      if (!log->error_.ok()) {
        log->failed_.store(true, std::memory_order_relaxed);
        if (log->pending_count_ > 0) {
          uint64_t count = 0, bytes = 0;
          std::vector<ChangeBlock> dropped = log->TakePending(&count, &bytes);
          settled += static_cast<int64_t>(bytes);
          log->Recycle(&dropped);
          log->pending_first_ += count;
        }
        continue;
      }
      log->segments_.push_back({{batch.file, batch.ranges[i].first, batch.ranges[i].second,
                                 taken.first_sequence, taken.last_sequence()}});
      ++files_[batch.file.path].segments;
      log->persisted_ = taken.last_sequence();
    }
    in_flight_bytes_.fetch_sub(settled, std::memory_order_relaxed);
    done->push_back(std::move(it->second));
    written_.erase(it);
    ++next_commit_;
  }
  std::erase_if(waiters_, [&](const std::shared_ptr<Waiter>& w) {
    std::lock_guard<std::mutex> log_lock(w->log->mu_);
    if (!w->log->error_.ok()) {
      answers->push_back({w, w->log->error_});
      return true;
    }
    if (w->log->persisted_ >= w->sequence) {
      answers->push_back({w, Status::OK()});
      return true;
    }
    return false;
  });
  // A request for changes appended after the batches were taken waits for the next one; one
  // whose changes are in a batch still being written waits for that batch.
  bool covered = true;
  for (const auto& w : waiters_) {
    std::lock_guard<std::mutex> log_lock(w->log->mu_);
    if (w->log->pending_first_ <= w->sequence) covered = false;
  }
  if (!covered && !requested_) {
    requested_ = true;
    first_request_ = std::chrono::steady_clock::now();
  }
}

void ChangelogWriter::ReleaseLocked(const std::string& path, bool handed_out) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  FileUse& use = it->second;
  use.handed_out = use.handed_out || handed_out;
  if (--use.segments > 0) return;
  if (!use.handed_out) unneeded_.push_back(path);
  files_.erase(it);
}

void ChangelogWriter::Release(const std::vector<std::pair<std::string, bool>>& released) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, handed_out] : released) ReleaseLocked(path, handed_out);
    wake = !unneeded_.empty();
  }
  if (wake) cv_.notify_one();
}

void ChangelogWriter::DeleteUnneeded(std::vector<std::string> paths) {
  for (const std::string& path : paths) {
    const Status s = storage_.DeleteStateFile(path);
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      LogWarn("state-change log file " + path + " that no checkpoint references not deleted " +
              "(left for weir checkpoints gc): " + s.ToString());
    }
  }
}

Result<StateFileHandle> ChangelogWriter::WriteFile(const std::string& relative,
                                                   std::string_view bytes, uint64_t checksum) {
  WEIR_FAILPOINT("changelog.persist");
  WEIR_ASSIGN_OR_RETURN(const std::string path, storage_.ResolveRelative(relative));
  WEIR_RETURN_IF_ERROR(storage_.fs().CreateDirs(storage_.ChangelogFilesDir()));
  WEIR_RETURN_IF_ERROR(RetryRetryable(
      "upload of " + relative,
      // Around the page cache where it can be: the log is read back only after a failure.
      [&]() { return storage_.fs().WriteDurably(path, bytes); }, options_.retry));
  WEIR_RETURN_IF_ERROR(storage_.fs().SyncDir(storage_.ChangelogFilesDir()));
  WEIR_FAILPOINT("changelog.after_persist");
  StateFileHandle h;
  h.path = relative;
  h.size = bytes.size();
  h.checksum = checksum;
  // Written outside any checkpoint (written_by_checkpoint 0); the checkpoints that need it
  // reference it.
  h.role = StateFileRole::kChangelog;
  return h;
}

}  // namespace weir
