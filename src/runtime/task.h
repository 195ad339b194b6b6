// Task: one subtask of a task vertex, i.e. one subtask of each operator of a chain, run by one
// thread. The thread alone handles the task's records, barriers, timers and mail, so operators
// and their keyed state need no locks.
//
// A source task polls its source and checks its mailbox between polls; it starts a checkpoint
// when the coordinator's trigger arrives. Any other task reads its input channels: a barrier,
// once aligned (BarrierAligner), snapshots the chain (operator state and the synchronous part of
// the keyed backend's SnapshotStrategy), is forwarded, and processing resumes while the
// asynchronous part runs on the runtime's async pool and is acknowledged from there. At the end
// of all input the chain is finished and the end of input forwarded; the task then keeps taking
// part in checkpoints (its channels still carry barriers) until it is told to stop, so that the
// final checkpoint commits the last output.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "runtime/barrier/barrier_aligner.h"
#include "runtime/internal_timer_service.h"
#include "runtime/operator_state_store.h"
#include "runtime/record_writer.h"
#include "runtime/task_inbox.h"
#include "snapshot/checkpointable_keyed_state_backend.h"
#include "snapshot/restore/operator_state_redistribution.h"
#include "snapshot/task_state_snapshot.h"

namespace weir {

// How a task reports to the runtime; called from the task's thread or the async pool.
class TaskListener {
 public:
  virtual ~TaskListener() = default;
  virtual void OnTaskFinished(const std::string& task_id) = 0;
  virtual void OnTaskFailed(const std::string& task_id, const Status& status) = 0;
  virtual void AcknowledgeCheckpoint(uint64_t checkpoint_id, TaskStateSnapshot snapshot) = 0;
  virtual void DeclineCheckpoint(uint64_t checkpoint_id, const std::string& task_id,
                                 const Status& reason) = 0;
};

struct TaskOperator {
  std::string uid;
  std::string name;
  std::unique_ptr<StreamOperator> op;      // null for the source
  std::unique_ptr<SourceOperator> source;  // the head of a source task
  // What the operator restores: whether the checkpoint held its state, and this subtask's share.
  bool restored = false;
  RestoredOperatorState restored_state;
};

struct TaskSetup {
  std::string job_id;
  std::string task_id;
  int subtask = 0;
  int parallelism = 1;
  bool exactly_once = true;
  bool checkpointing_enabled = false;
  const Configuration* config = nullptr;  // the job's; outlives the task
  std::vector<TaskOperator> chain;        // head first
  std::unique_ptr<TaskInbox> inbox;
  std::vector<std::unique_ptr<RecordWriter>> writers;  // one per consumer vertex
  // Channels [0, first_input_channels) are the head's first input, the rest its second
  // (OperatorSpec::input2).
  int first_input_channels = 0;
  // writer_tags[i]: the side output writers[i] carries (empty: the main output).
  std::vector<std::string> writer_tags;
  // Keyed head only:
  std::unique_ptr<CheckpointableKeyedStateBackend> backend;
  bool backend_snapshots = false;  // the job has checkpoint storage: the backend is snapshotted
  TaskListener* listener = nullptr;
  ThreadPool* async_pool = nullptr;
};

class Task {
 public:
  explicit Task(TaskSetup setup);
  ~Task();  // joins the thread
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  void Start();
  void Join();
  TaskInbox& inbox() { return *setup_.inbox; }
  const std::string& task_id() const { return setup_.task_id; }
  bool is_source() const { return setup_.chain.front().source != nullptr; }
  // Counters since the task started, for metrics; any thread.
  struct Metrics {
    std::string task_id;
    std::string head_uid;
    int subtask = 0;
    uint64_t records_in = 0;
    uint64_t records_out = 0;
    int64_t backpressure_ns = 0;
    // Flink's currentInputWatermark (the least over the task's inputs) and the chain's
    // currentOutputWatermark; kMinWatermark while there is none.
    int64_t input_watermark = kMinWatermark;
    int64_t output_watermark = kMinWatermark;
  };
  Metrics metrics() const;

 private:
  class Context;
  class ChainOutput;
  class FanOut;

  void Main();
  Status Open();
  Status RunSource();
  Status RunOperator();
  Status HandleMail(const Mail& mail);
  Status HandleElement(int channel, StreamElement& element);
  Status ProcessRecord(int channel, StreamElement& element);
  Status Snapshot(uint64_t checkpoint_id, std::shared_ptr<const CheckpointOptions> options);
  Status FinishChain();
  Status FireTimers();
  // Calls every chained operator's OnQuiet; the earliest time one wants to be called again.
  Result<std::optional<int64_t>> Quiet();
  // A channel's watermark or idleness changed: recomputes the task's watermark.
  Status OnChannelWatermark(size_t channel, std::optional<int64_t> watermark, bool idle);
  // Fires the event-time timers the watermark reached, then hands it to the head operator.
  Status AdvanceWatermark(int64_t watermark);
  void FlushWriters();
  void Close();

  TaskSetup setup_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<std::unique_ptr<Output>> outputs_;  // outputs_[i]: where chain[i] emits
  std::unique_ptr<InternalTimerService> timers_;
  std::unique_ptr<BarrierAligner> aligner_;
  // First barrier of each checkpoint being aligned (steady clock for the alignment's duration,
  // wall clock for the start delay); the last alignment's duration and first barrier.
  struct FirstBarrier {
    std::chrono::steady_clock::time_point steady;
    int64_t unix_ms = 0;
  };
  std::map<uint64_t, FirstBarrier> alignment_start_;
  int64_t alignment_us_ = 0;
  int64_t barrier_unix_ms_ = 0;
  std::atomic<uint64_t> records_in_{0};
  std::atomic<int64_t> input_watermark_{kMinWatermark};  // watermark_, for metrics readers
  std::string current_key_;
  int64_t current_timestamp_ = kNoTimestamp;  // of the record or event-time timer being processed
  // Event time: the task's watermark, and each input channel's (with whether it is idle).
  int64_t watermark_ = kMinWatermark;
  std::vector<int64_t> channel_watermarks_;
  std::vector<bool> channel_idle_;
  bool all_idle_ = false;
  Status chain_error_;  // the first error of a chained operator (Output::Emit cannot return it)
  std::vector<bool> ended_;
  int ended_count_ = 0;
  bool finished_ = false;
  bool stop_ = false;
  // A stop-with-savepoint's snapshot was taken: the source polls nothing and timers do not fire
  // (nothing may follow its barrier) until the job stops, or resume if that savepoint aborts.
  std::optional<uint64_t> suspended_for_;
  std::thread thread_;
};

}  // namespace weir
