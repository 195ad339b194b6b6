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
#include <limits>
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

// Event time (Flink's): a record may carry a timestamp (Unix milliseconds, from its source or
// assigned by a watermark strategy, weir/watermark.h); a watermark W says that no more records
// with a timestamp ≤ W are expected. A record without a timestamp has kNoTimestamp. Before any
// watermark an operator's watermark is kMinWatermark; at the end of bounded input it becomes
// kMaxWatermark, which fires every event-time timer.
inline constexpr int64_t kNoTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMinWatermark = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxWatermark = std::numeric_limits<int64_t>::max();

// Where an operator sends its results (the next operator of the chain, or the channels to the
// next subtasks).
class Output {
 public:
  virtual ~Output() = default;
  // A record with the timestamp of the record (or event-time timer) being processed, if any.
  virtual void Emit(Record record) = 0;
  // A record with this timestamp (kNoTimestamp: none).
  virtual void EmitWithTimestamp(Record record, int64_t /*timestamp*/) { Emit(std::move(record)); }
  // A watermark, to every consumer. Operators forward the watermarks they get
  // (StreamOperator::ProcessWatermark) unless they make their own.
  virtual void EmitWatermark(int64_t /*watermark*/) {}
  // This output will carry no records or watermarks for a while (a watermark strategy's
  // idleness): consumers leave it out of their watermark until it carries something again.
  virtual void MarkIdle() {}
  // A record to the side output `tag` (the operators reading it: DataStream::SideOutput).
  virtual void EmitToSide(const std::string& /*tag*/, Record /*record*/) {}
};

// Timers of a keyed operator, scoped to the current key. Timers are kept in the keyed state, so
// they are part of every checkpoint, fire again after a restore and move with their key when the
// parallelism changes. A processing-time timer fires when the wall clock reaches it; an
// event-time timer when the operator's watermark reaches it (at the latest at the end of input).
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual int64_t CurrentProcessingTime() const = 0;  // Unix milliseconds
  virtual Status RegisterProcessingTimeTimer(int64_t timestamp_ms) = 0;
  virtual Status DeleteProcessingTimeTimer(int64_t timestamp_ms) = 0;
  // The operator's current watermark (kMinWatermark before the first one).
  virtual int64_t CurrentWatermark() const = 0;
  virtual Status RegisterEventTimeTimer(int64_t timestamp_ms) = 0;
  virtual Status DeleteEventTimeTimer(int64_t timestamp_ms) = 0;
};

enum class TimeDomain : uint8_t { kProcessingTime, kEventTime };

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
  // The timestamp of the record being processed (an event-time timer's: its time; kNoTimestamp
  // for a record without one and for processing-time timers).
  virtual int64_t current_timestamp() const { return kNoTimestamp; }
  // The operator's watermark: the least of its inputs' (kMinWatermark before the first one).
  virtual int64_t current_watermark() const { return kMinWatermark; }
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
  // A record of the operator's second input (OperatorSpec::input2: Connect); by default it is
  // handled as the first input's (Union).
  virtual Status ProcessRecord2(Record record) { return ProcessRecord(std::move(record)); }
  // A processing-time timer of the current key fired (keyed operators only).
  virtual Status OnTimer(int64_t /*timestamp_ms*/) { return Status::OK(); }
  // An event-time timer of the current key fired: the watermark reached it (keyed operators).
  virtual Status OnEventTimer(int64_t /*timestamp_ms*/) { return Status::OK(); }
  // The operator's watermark advanced (after the event-time timers it reached fired). The
  // default forwards it; an operator that makes its own watermarks swallows it.
  virtual Status ProcessWatermark(int64_t watermark, Output& out) {
    out.EmitWatermark(watermark);
    return Status::OK();
  }
  // The task has no input to process now and is about to wait: an operator acting on the
  // passage of processing time without records (a watermark strategy's idleness) does it here.
  // Returns when it wants to be called again at the latest (Unix ms; nullopt: no need).
  virtual Result<std::optional<int64_t>> OnQuiet(int64_t /*now_ms*/) {
    return std::optional<int64_t>();
  }
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
