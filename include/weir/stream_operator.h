// The runtime's view of an operator: records as type-erased values, and the calls a subtask makes
// on its thread. Job authors normally use the typed builder (weir/job.h), which wraps their
// functions into these; connectors implement them directly.
//
// Lifecycle of one subtask's operator: Open (with the operator state restored from a checkpoint,
// if any: its lists in OperatorContext::operator_state(), weir/operator_state.h) ->
// ProcessRecord / OnTimer ... with SnapshotState at each checkpoint barrier and
// Notify* when a checkpoint completes or is aborted -> Finish at the end of input -> Close.
// Every call comes from the subtask's own thread.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "weir/config.h"
#include "weir/keyed_state_backend.h"
#include "weir/operator_state.h"
#include "weir/status.h"

namespace weir {

// One record of a stream: a value of the stream's element type.
using Record = std::any;

// Where an operator sends its results (the next operator of the chain, or the channels to the
// next subtasks).
class Output {
 public:
  virtual ~Output() = default;
  virtual void Emit(Record record) = 0;
};

// Timers of a keyed operator, scoped to the current key. Processing-time timers are kept in the
// keyed state, so they are part of every checkpoint and fire again after a restore.
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual int64_t CurrentProcessingTime() const = 0;  // Unix milliseconds
  virtual Status RegisterProcessingTimeTimer(int64_t timestamp_ms) = 0;
  virtual Status DeleteProcessingTimeTimer(int64_t timestamp_ms) = 0;
};

// What the runtime tells an operator about where it runs.
class OperatorContext {
 public:
  virtual ~OperatorContext() = default;
  virtual const std::string& job_id() const = 0;
  virtual const std::string& operator_uid() const = 0;
  virtual int subtask() const = 0;
  virtual int parallelism() const = 0;
  virtual bool checkpointing_enabled() const = 0;
  // The job's configuration (checkpoint interval, timeouts, …).
  virtual const Configuration& configuration() const = 0;
  // Keyed operators only (null otherwise).
  virtual KeyedStateBackend* keyed_state() = 0;
  virtual TimerService* timers() = 0;
  // The serialized key of the record or timer being processed (keyed operators only).
  virtual std::string_view current_key() const = 0;
  // This subtask's operator state (lists redistributed when the parallelism changes).
  virtual OperatorStateStore& operator_state() = 0;
};

class StreamOperator {
 public:
  virtual ~StreamOperator() = default;
  // `restored` is the opaque operator state this subtask's SnapshotState returned in the
  // checkpoint the job resumed from (nullopt on a fresh start or if it returned none). Opaque
  // state cannot be redistributed: an operator that has it restores only at the parallelism it
  // ran with; list state (ctx.operator_state()) restores at any. `ctx` and `out` outlive the
  // operator.
  virtual Status Open(OperatorContext& ctx, const std::optional<std::string>& restored,
                      Output& out) = 0;
  virtual Status ProcessRecord(Record record) = 0;
  // A processing-time timer of the current key fired (keyed operators only).
  virtual Status OnTimer(int64_t /*timestamp_ms*/) { return Status::OK(); }
  // The synchronous part of checkpoint N, before the barrier goes on: opaque operator state to
  // store (nullopt: none), besides the lists of ctx.operator_state(). Must be short.
  virtual Result<std::optional<std::string>> SnapshotState(uint64_t /*checkpoint_id*/) {
    return std::optional<std::string>();
  }
  // The rest of checkpoint N's snapshot, which must be done before N can complete but need not
  // pause the records (making a file durable, say). Called on the task's thread right after
  // SnapshotState(N) succeeded; the task runs what it returns on its asynchronous snapshot
  // thread after forwarding the barrier, and declines N if it fails. The work must not touch
  // the operator: give it what it needs. Empty (the default): nothing to do.
  virtual std::function<Status()> TakeAsyncSnapshotWork(uint64_t /*checkpoint_id*/) {
    return nullptr;
  }
  virtual Status NotifyCheckpointComplete(uint64_t /*checkpoint_id*/) { return Status::OK(); }
  virtual void NotifyCheckpointAborted(uint64_t /*checkpoint_id*/) {}
  // All input has been processed; may still emit.
  virtual Status Finish() { return Status::OK(); }
  virtual void Close() {}
};

// What a source's Poll() found.
struct SourcePoll {
  enum class State { kMoreAvailable, kNothingAvailable, kEndOfInput };
  State state = State::kMoreAvailable;
  int64_t retry_after_ms = 0;  // with kNothingAvailable: when to poll again
};

// A replayable source: its position is its operator state, restored on recovery, so that it
// emits again exactly what followed the checkpoint. Positions kept in list state
// (ctx.operator_state()) move to the new subtasks when the parallelism changes.
class SourceOperator {
 public:
  virtual ~SourceOperator() = default;
  // `restored`: the opaque state SnapshotState returned, as for StreamOperator::Open.
  virtual Status Open(OperatorContext& ctx, const std::optional<std::string>& restored) = 0;
  // Emits at most `max_records` records.
  virtual Result<SourcePoll> Poll(Output& out, size_t max_records) = 0;
  // The position after the last record emitted (synchronous part of checkpoint N): the lists of
  // ctx.operator_state() updated, and opaque state returned if any.
  virtual Result<std::optional<std::string>> SnapshotState(uint64_t checkpoint_id) = 0;
  virtual Status NotifyCheckpointComplete(uint64_t /*checkpoint_id*/) { return Status::OK(); }
  virtual void Close() {}
};

}  // namespace weir
