// ChangelogWriter: the process's durable state-change log on checkpoint storage (Flink's DSTL
// with its batching uploader). Every backend of the process with the changelog on appends its
// state changes to its own StateChangelog; the writer persists them in batches, one file per
// batch holding a chunk per backend (changelog_format.h), so that a checkpoint of N backends
// writes one file rather than N small ones.
//
// A batch is persisted when a backend asks for its changes to be durable (a checkpoint's
// asynchronous part; other requests arriving within `persist_delay` join the same batch) or
// when the changes not yet persisted reach `persist_size_threshold`. Up to `upload_threads`
// batches are written at once (a checkpoint's batch does not wait behind a threshold batch's
// write and sync); they become durable in the order they were taken, so a log's persisted
// changes never have a gap. The changes handed over and not yet durable are at most
// `max_in_flight`: an owner that would go past it waits, and meanwhile the writer takes whatever
// is pending (so a slow storage backpressures the tasks rather than filling memory). A batch that
// fails is retried by the retry policy; when it still fails, the logs whose changes it held are
// failed for good: their changes are lost from the log, so no later checkpoint may claim them
// (the backend must be restored), and they drop the changes appended after.
//
// Files are written under shared/ (or the log directory of dstl.dfs.base-path,
// storage/checkpoint_storage.h) as changelog-<writer id>-<n>.dstl. A file that a checkpoint
// may reference (a segment of it went out through Segments()) is the registry's to delete
// (docs/design.md, "Changelog checkpoints"); one that no log needs any more and none of whose
// segments went out is deleted here (Flink's TaskChangelogRegistry does the same).
//
// Threads: each StateChangelog is written and persisted by its owner's thread; the segment queries
// may be called from any thread; the writer runs `upload_threads` threads of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/retry.h"
#include "snapshot/state_handle.h"
#include "state/changelog/changelog_format.h"
#include "storage/checkpoint_storage.h"

namespace weir {

struct ChangelogWriterOptions {
  std::chrono::milliseconds persist_delay{10};
  uint64_t persist_size_threshold = uint64_t{10} << 20;
  // Changes handed to the log and not yet durable, at most (dstl.dfs.upload.max-in-flight): an
  // owner that would exceed it waits, so a storage slower than the changes backpressures the
  // tasks instead of growing their changes in memory. At least persist_size_threshold.
  uint64_t max_in_flight = uint64_t{100} << 20;
  int upload_threads = 5;
  ChangelogCompression compression = ChangelogCompression::kNone;  // as the configuration's
  RetryOptions retry;
};

// One backend's changes first..last, persisted as one chunk of a log file.
struct ChangelogSegment {
  StateFileHandle file;  // the whole file: size and checksum
  uint64_t offset = 0;   // of the chunk in the file
  uint64_t length = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  bool operator==(const ChangelogSegment&) const = default;
};

class ChangelogWriter;

// Fetches the cache line at `p` to be written: owned by this core, so that the store needs no
// second trip to invalidate another core's copy (a read prefetch may get a shared one).
// PREFETCHW on x86-64 (Intel CPUs before Broadwell run it as a no-op).
[[gnu::always_inline]] inline void PrefetchForWrite(const char* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*p));
#else
  __builtin_prefetch(p, /*rw=*/1);
#endif
}

// A block of encoded changes (EncodeStateChange): the owner encodes into one while the writer
// writes those handed over before; handing one over moves it, copying nothing.
struct ChangeBlock {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
  size_t size = 0;
  uint64_t count = 0;  // changes in it
  static ChangeBlock WithCapacity(size_t capacity) {
    return {std::unique_ptr<char[]>(new char[capacity]), capacity, 0, 0};
  }
  std::string_view view() const { return {data.get(), size}; }
};

// One backend's log. Sequence numbers count its changes from 1.
class StateChangelog {
 public:
  ~StateChangelog();  // leaves the writer; changes not persisted are dropped
  StateChangelog(const StateChangelog&) = delete;
  StateChangelog& operator=(const StateChangelog&) = delete;

  const std::string& backend_id() const { return backend_id_; }

  // --- the owner's thread.
  // The id under which changes of state `name` are logged (assigned on first use).
  uint32_t StateId(const std::string& name);
  // Inline: it runs for every write to keyed state; most changes are encoded into the held
  // block and nothing else.
  void Append(StateChangeOp op, uint32_t state_id, int key_group, std::string_view key,
              std::string_view ns, std::string_view user_key, std::string_view value) {
    ++last_sequence_;
    const size_t most = MaxStateChangeBytes(key, ns, user_key, value);
    if (most > held_.capacity - held_.size) [[unlikely]] {
      AppendAfterHandOver(op, state_id, key_group, key, ns, user_key, value, most);
      return;
    }
    // A block's first record gives its context in full: a chunk is made of whole blocks.
    const bool same = held_.count > 0 && key_group == context_key_group_ &&
                      SameBytes(key, context_.key) && SameBytes(ns, context_.ns);
    char* end = EncodeStateChange(held_.data.get() + held_.size, op, state_id, key_group, key, ns,
                                  user_key, value, same, &context_);
    if (!same) context_key_group_ = key_group;
    held_.size = static_cast<size_t>(end - held_.data.get());
    ++held_.count;
    // The block's next lines, fetched while the task does its other work: a recycled block was
    // last read by the writer long ago, and encoding into lines not in the cache stalled the
    // task on each of them.
    if (held_.size + kPrefetchAhead < held_.capacity) {
      PrefetchForWrite(end + kPrefetchAhead);
      PrefetchForWrite(end + kPrefetchAhead - 64);
    }
  }
  // The sequence number of the last change appended (0: none yet).
  uint64_t last_sequence() const { return last_sequence_; }
  // Makes every change up to `sequence` durable; the future holds OK once it is, or why it never
  // will be. (The owner's thread: it hands over the changes the owner still holds.)
  std::shared_future<Status> Persist(uint64_t sequence);

  // --- any thread.
  // The persisted segments holding the changes after `after` up to `upto`, in order; Internal if
  // some of those changes are not persisted.
  Result<std::vector<ChangelogSegment>> Segments(uint64_t after, uint64_t upto) const;
  // Forgets the segments all of whose changes are at most `sequence` (a materialization holds
  // them). A file no log needs any more and none of whose segments was ever handed out by
  // Segments() (so no checkpoint can reference it) is deleted by the writer; the others are the
  // registry's to delete.
  void Truncate(uint64_t sequence);
  uint64_t persisted_sequence() const;

 private:
  friend class ChangelogWriter;
  StateChangelog(std::shared_ptr<ChangelogWriter> writer, std::string backend_id);

  // Append's way when the held block has no room: hands it over, then encodes the change into
  // the next one, or into a block of its own when it is larger than a block.
  void AppendAfterHandOver(StateChangeOp op, uint32_t state_id, int key_group, std::string_view key,
                           std::string_view ns, std::string_view user_key, std::string_view value,
                           size_t most);
  // Hands the held block over to the writer (into pending_) and holds a free one; drops the
  // changes once the log has failed.
  void HandOver();
  // Appends `block` to pending_ after waiting for room for its bytes, and takes a free block
  // into `*next` when there is one; false (nothing added) once the log has failed.
  bool AddToPending(ChangeBlock&& block, ChangeBlock* next);
  // The pending blocks (under mu_), which leave the log; their bytes and changes.
  std::vector<ChangeBlock> TakePending(uint64_t* count, uint64_t* bytes);
  // Blocks the writer is done with, kept for the owner to fill again (under mu_): megabytes
  // that stay allocated and mapped, rather than fresh memory that the kernel zeroes page by
  // page under the appending thread (and unmaps with a TLB flush on every core when freed).
  void Recycle(std::vector<ChangeBlock>* blocks);

  std::shared_ptr<ChangelogWriter> writer_;
  const std::string backend_id_;
  uint64_t last_sequence_ = 0;  // owner's thread
  // The owner encodes its changes into held_, without a lock, and hands it over whole: a lock
  // per change cost the tasks more than the encoding, and each hand-over adds to the writer's
  // count of bytes not persisted, which all task threads share (its cache line moved between
  // the cores at each change). A block is a sixteenth of the size threshold, 32 KiB at most:
  // it stays in the core's cache while it fills.
  static constexpr size_t kMaxBlockBytes = 32 << 10;
  static constexpr size_t kPrefetchAhead = 192;  // bytes past the last record
  const size_t block_bytes_;
  ChangeBlock held_;
  // The context of held_'s last record written in full: views of its bytes in held_.
  EncodedContext context_;
  int context_key_group_ = 0;

  // Shared with the writer's thread, under mu_.
  mutable std::mutex mu_;
  std::vector<ChangeBlock> pending_;
  uint64_t pending_count_ = 0;
  uint64_t pending_bytes_ = 0;
  std::vector<ChangeBlock> free_;  // of block_bytes_ each (the writer counts them)
  uint64_t pending_first_ = 1;
  std::map<uint32_t, std::string> states_;
  std::map<std::string, uint32_t, std::less<>> ids_;  // owner's thread only
  // Persisted and not truncated; `handed_out`: returned by Segments(), so a checkpoint may
  // reference its file (mutable: Segments() marks them).
  struct LoggedSegment {
    ChangelogSegment segment;
    bool handed_out = false;
  };
  mutable std::deque<LoggedSegment> segments_;
  uint64_t persisted_ = 0;
  Status error_;
  std::atomic<bool> failed_{false};  // !error_.ok(), readable without mu_
};

class ChangelogWriter : public std::enable_shared_from_this<ChangelogWriter> {
 public:
  // Starts the writer's thread. `storage` is the job's (not a savepoint's).
  static std::shared_ptr<ChangelogWriter> Start(CheckpointStorage storage,
                                                ChangelogWriterOptions options);
  ~ChangelogWriter();  // stops the thread; what was not persisted is dropped

  std::unique_ptr<StateChangelog> Register(const std::string& backend_id);

  // Figures for metrics and tests.
  uint64_t files_written() const;
  uint64_t bytes_written() const;
  // Bytes handed over by the logs and not yet durable (nor dropped with a failed or closed log).
  int64_t in_flight_bytes() const { return in_flight_bytes_.load(std::memory_order_relaxed); }
  // Bytes of the blocks the logs keep to fill again (at most max_in_flight).
  int64_t kept_block_bytes() const { return free_block_bytes_.load(std::memory_order_relaxed); }

 private:
  friend class StateChangelog;
  struct Waiter {
    StateChangelog* log;
    uint64_t sequence;
    std::promise<Status> done;
  };
  ChangelogWriter(CheckpointStorage storage, ChangelogWriterOptions options);
  void Unregister(StateChangelog* log);
  // A log no longer needs its segment in file `path` (truncated, or the log closed);
  // `handed_out`: the segment went to a checkpoint. Under mu_.
  void ReleaseLocked(const std::string& path, bool handed_out);
  // The same for segments a log truncated (without its lock).
  void Release(const std::vector<std::pair<std::string, bool>>& released);
  // Deletes the files no log needs and no checkpoint can reference (unneeded_), without mu_.
  void DeleteUnneeded(std::vector<std::string> paths);
  std::shared_future<Status> Request(StateChangelog* log, uint64_t sequence);
  void AddPendingBytes(uint64_t n);
  // Waits while handing over `n` more bytes would take the changes in flight past
  // max_in_flight (owner's thread; returns at once when nothing is in flight, or the writer
  // stops).
  void WaitForRoom(uint64_t n);
  struct Batch;
  void Loop();
  // Takes every log's pending changes and persists them as one file.
  void PersistBatch(std::unique_lock<std::mutex>& lock);
  // A request answered, to be told without the locks.
  struct Answer {
    std::shared_ptr<Waiter> waiter;
    Status status;
  };
  // Applies the written batches whose predecessors are all applied, in order (under mu_); the
  // applied ones go to `done`, to be freed without the lock, and the requests they satisfy to
  // `answers`: setting a promise wakes its waiter, which could take this thread's core while it
  // holds mu_ and a log's lock, and a task appending or requesting would wait for both.
  void CommitInOrder(std::vector<std::unique_ptr<Batch>>* done, std::vector<Answer>* answers);
  // `checksum`: Hash64 of `bytes`, computed while they were put together.
  Result<StateFileHandle> WriteFile(const std::string& relative, std::string_view bytes,
                                    uint64_t checksum);

  const CheckpointStorage storage_;
  const ChangelogWriterOptions options_;
  const std::string writer_id_;

  // mu_ is also taken by a checkpoint's synchronous part (Request): it is held only to take and
  // apply batches, never to encode, write or free them, and a change of work wakes one thread.
  mutable std::mutex mu_;
  std::condition_variable cv_;       // the threads wait for work here
  std::condition_variable idle_cv_;  // Unregister waits here for the batches in flight
  std::condition_variable room_cv_;  // owners wait here for room under max_in_flight
  int blocked_ = 0;                  // owners waiting for room: batches start at once
  bool timing_ = false;              // a thread keeps time (see Loop)
  std::vector<StateChangelog*> logs_;
  std::vector<std::shared_ptr<Waiter>> waiters_;
  std::chrono::steady_clock::time_point first_request_{};
  bool requested_ = false;
  int in_flight_ = 0;         // batches being written (their logs must stay registered)
  uint64_t next_batch_ = 1;   // taken in this order
  uint64_t next_commit_ = 1;  // and applied in it
  std::map<uint64_t, std::unique_ptr<Batch>> written_;  // waiting for an earlier one
  std::atomic<uint64_t> pending_bytes_{0};              // appended since the last batch was taken
  // Handed over and not yet committed or dropped. Signed: a batch can commit before the owner
  // that handed its bytes over has counted them.
  std::atomic<int64_t> in_flight_bytes_{0};
  // Bytes of the blocks the logs keep for reuse (StateChangelog::Recycle), at most
  // max_in_flight for the whole process: what was once in flight, not more.
  std::atomic<int64_t> free_block_bytes_{0};
  uint64_t next_file_ = 1;
  // The files this writer wrote that a log still needs: how many logs have a segment in each,
  // and whether any of those was handed out (a checkpoint may reference the file: then it is
  // never deleted here). A file no log needs and none handed out goes to unneeded_, which the
  // writer's threads delete (the logs' threads may be tasks; a delete can be a network request).
  struct FileUse {
    int segments = 0;
    bool handed_out = false;
  };
  std::map<std::string, FileUse> files_;
  std::vector<std::string> unneeded_;
  uint64_t files_written_ = 0;
  uint64_t bytes_written_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace weir
