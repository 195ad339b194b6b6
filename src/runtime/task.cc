#include "runtime/task.h"

#include <chrono>
#include <exception>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace weir {
namespace {

constexpr size_t kSourceBatch = 256;
constexpr size_t kInputBatch = 256;

class NullOutput final : public Output {
 public:
  void Emit(Record) override {}
};

}  // namespace

class Task::Context final : public OperatorContext {
 public:
  Context(Task* task, const TaskOperator& op, bool keyed)
      : task_(task),
        uid_(op.uid),
        keyed_(keyed),
        operator_state_(op.uid, op.restored, op.restored_state.lists, task->setup_.subtask == 0) {}
  const std::string& job_id() const override { return task_->setup_.job_id; }
  const std::string& operator_uid() const override { return uid_; }
  int subtask() const override { return task_->setup_.subtask; }
  int parallelism() const override { return task_->setup_.parallelism; }
  bool checkpointing_enabled() const override { return task_->setup_.checkpointing_enabled; }
  const Configuration& configuration() const override { return *task_->setup_.config; }
  KeyedStateBackend* keyed_state() override {
    return keyed_ ? task_->setup_.backend.get() : nullptr;
  }
  TimerService* timers() override { return keyed_ ? task_->timers_.get() : nullptr; }
  std::string_view current_key() const override { return task_->current_key_; }
  int64_t current_timestamp() const override { return task_->current_timestamp_; }
  int64_t current_watermark() const override { return task_->watermark_; }
  TaskOperatorStateStore& operator_state() override { return operator_state_; }

 private:
  Task* task_;
  std::string uid_;
  bool keyed_;
  TaskOperatorStateStore operator_state_;
};

// Hands a record (or watermark) to the next operator of the chain, on the same thread.
class Task::ChainOutput final : public Output {
 public:
  ChainOutput(Task* task, size_t next) : task_(task), next_index_(next) {}
  void Emit(Record record) override {
    if (!task_->chain_error_.ok()) return;
    Status s = next()->ProcessRecord(std::move(record));
    if (!s.ok()) task_->chain_error_ = std::move(s);
  }
  void EmitWithTimestamp(Record record, int64_t timestamp) override {
    const int64_t outer = std::exchange(task_->current_timestamp_, timestamp);
    Emit(std::move(record));
    task_->current_timestamp_ = outer;
  }
  void EmitWatermark(int64_t watermark) override {
    if (!task_->chain_error_.ok()) return;
    Status s = next()->ProcessWatermark(watermark, *task_->outputs_[next_index_]);
    if (!s.ok()) task_->chain_error_ = std::move(s);
  }
  void MarkIdle() override { task_->outputs_[next_index_]->MarkIdle(); }
  // An operator with side outputs ends its chain (PlanExecution), so none come here.
  void EmitToSide(const std::string&, Record) override {}

 private:
  StreamOperator* next() { return task_->setup_.chain[next_index_].op.get(); }
  Task* task_;
  size_t next_index_;
};

// The tail of a chain: each consumer of its main output gets every record, each consumer of a
// side output the records of that side output, and all of them the watermarks.
class Task::FanOut final : public Output {
 public:
  FanOut(Task* task, std::vector<std::pair<std::string, RecordWriter*>> writers)
      : task_(task), writers_(std::move(writers)) {}
  void Emit(Record record) override {
    EmitWithTimestamp(std::move(record), task_->current_timestamp_);
  }
  void EmitWithTimestamp(Record record, int64_t timestamp) override {
    To("", std::move(record), timestamp);
  }
  void EmitWatermark(int64_t watermark) override {
    for (auto& [tag, w] : writers_) w->EmitWatermark(watermark);
  }
  void MarkIdle() override {
    for (auto& [tag, w] : writers_) w->MarkIdle();
  }
  void EmitToSide(const std::string& tag, Record record) override {
    if (tag.empty()) return;  // the empty tag is the main output's
    To(tag, std::move(record), task_->current_timestamp_);
  }

 private:
  void To(const std::string& tag, Record record, int64_t timestamp) {
    RecordWriter* last = nullptr;
    for (auto& [t, w] : writers_) {
      if (t != tag) continue;
      if (last != nullptr) last->EmitWithTimestamp(record, timestamp);
      last = w;
    }
    if (last != nullptr) last->EmitWithTimestamp(std::move(record), timestamp);
  }
  Task* task_;
  std::vector<std::pair<std::string, RecordWriter*>> writers_;
};

Task::Task(TaskSetup setup) : setup_(std::move(setup)) {
  const auto& chain = setup_.chain;
  for (size_t i = 0; i < chain.size(); ++i) {
    contexts_.push_back(std::make_unique<Context>(this, chain[i], i == 0 && setup_.backend));
  }
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    outputs_.push_back(std::make_unique<ChainOutput>(this, i + 1));
  }
  if (setup_.writers.empty()) {
    outputs_.push_back(std::make_unique<NullOutput>());
  } else {
    std::vector<std::pair<std::string, RecordWriter*>> writers;
    for (size_t i = 0; i < setup_.writers.size(); ++i) {
      writers.emplace_back(i < setup_.writer_tags.size() ? setup_.writer_tags[i] : std::string(),
                           setup_.writers[i].get());
    }
    outputs_.push_back(std::make_unique<FanOut>(this, std::move(writers)));
  }
  const int channels = setup_.inbox->num_channels();
  aligner_ = std::make_unique<BarrierAligner>(channels, setup_.exactly_once);
  ended_.assign(static_cast<size_t>(channels), false);
  channel_watermarks_.assign(static_cast<size_t>(channels), kMinWatermark);
  channel_idle_.assign(static_cast<size_t>(channels), false);
}

Task::~Task() { Join(); }

void Task::Start() {
  thread_ = std::thread([this] {
    SetCurrentThreadName(TaskThreadName(setup_.task_id));
    Main();
  });
}

void Task::Join() {
  if (thread_.joinable()) thread_.join();
}

void Task::Main() {
  Status s;
  try {
    s = Open();
    if (s.ok()) s = is_source() ? RunSource() : RunOperator();
  } catch (const std::exception& e) {
    s = Status::Internal(std::string("an operator threw: ") + e.what());
  } catch (...) {
    s = Status::Internal("an operator threw a non-standard exception");
  }
  try {
    Close();
  } catch (...) {
  }
  if (!s.ok()) setup_.listener->OnTaskFailed(setup_.task_id, s);
}

Status Task::Open() {
  if (setup_.backend) {
    timers_ = std::make_unique<InternalTimerService>(setup_.backend.get(), &current_key_);
    WEIR_RETURN_IF_ERROR(timers_->Open());
  }
  // Tail first, so that whatever an operator emits while opening finds its consumer open.
  for (size_t i = setup_.chain.size(); i-- > 0;) {
    auto& op = setup_.chain[i];
    if (op.source) {
      WEIR_RETURN_IF_ERROR(op.source->Open(*contexts_[i], op.restored_state.opaque));
    } else {
      WEIR_RETURN_IF_ERROR(op.op->Open(*contexts_[i], op.restored_state.opaque, *outputs_[i]));
    }
  }
  return Status::OK();
}

void Task::Close() {
  for (auto& op : setup_.chain) {
    if (op.source) op.source->Close();
    if (op.op) op.op->Close();
  }
}

void Task::FlushWriters() {
  for (auto& w : setup_.writers) w->Flush();
}

Status Task::RunSource() {
  SourceOperator& source = *setup_.chain.front().source;
  Mail mail;
  std::vector<StreamElement> none;
  int channel = 0;
  while (!stop_) {
    // Mail first, without waiting.
    auto taken = setup_.inbox->Take({}, false, std::nullopt, 0, &mail, &none, &channel);
    if (taken == TaskInbox::Taken::kClosed) return Status::OK();
    if (taken == TaskInbox::Taken::kMail) {
      WEIR_RETURN_IF_ERROR(HandleMail(mail));
      continue;
    }
    std::optional<TaskInbox::Clock::time_point> wait_until;
    if (!finished_ && !suspended_for_) {
      WEIR_ASSIGN_OR_RETURN(SourcePoll poll, source.Poll(*outputs_[0], kSourceBatch));
      WEIR_RETURN_IF_ERROR(chain_error_);
      if (poll.state == SourcePoll::State::kEndOfInput) {
        WEIR_RETURN_IF_ERROR(FinishChain());
        continue;
      }
      if (poll.state == SourcePoll::State::kMoreAvailable) continue;
      int64_t retry_ms = poll.retry_after_ms;
      WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> quiet_until, Quiet());
      if (quiet_until)
        retry_ms = std::min(retry_ms, std::max<int64_t>(0, *quiet_until - NowUnixMs()));
      wait_until = TaskInbox::Clock::now() + std::chrono::milliseconds(retry_ms);
    }
    FlushWriters();
    taken = setup_.inbox->Take({}, true, wait_until, 0, &mail, &none, &channel);
    if (taken == TaskInbox::Taken::kClosed) return Status::OK();
    if (taken == TaskInbox::Taken::kMail) WEIR_RETURN_IF_ERROR(HandleMail(mail));
  }
  return Status::OK();
}

Status Task::RunOperator() {
  Mail mail;
  std::vector<StreamElement> elements;
  int channel = 0;
  while (!stop_) {
    WEIR_RETURN_IF_ERROR(FireTimers());
    auto taken = setup_.inbox->Take(aligner_->blocked(), false, std::nullopt, kInputBatch, &mail,
                                    &elements, &channel);
    if (taken == TaskInbox::Taken::kTimeout) {
      std::optional<int64_t> wake_ms;
      if (!finished_) {
        WEIR_ASSIGN_OR_RETURN(wake_ms, Quiet());
      }
      FlushWriters();  // nothing to read now: let what was produced go
      if (timers_ && !finished_) {
        if (auto next = timers_->NextTimer()) {
          wake_ms = std::min(wake_ms.value_or(*next + 1), *next + 1);  // due after its ms
        }
      }
      std::optional<TaskInbox::Clock::time_point> deadline;
      if (wake_ms) {
        deadline = TaskInbox::Clock::now() +
                   std::chrono::milliseconds(std::max<int64_t>(0, *wake_ms - NowUnixMs()));
      }
      taken = setup_.inbox->Take(aligner_->blocked(), true, deadline, kInputBatch, &mail, &elements,
                                 &channel);
    }
    switch (taken) {
      case TaskInbox::Taken::kClosed:
        return Status::OK();
      case TaskInbox::Taken::kMail:
        WEIR_RETURN_IF_ERROR(HandleMail(mail));
        break;
      case TaskInbox::Taken::kElements:
        for (auto& e : elements) WEIR_RETURN_IF_ERROR(HandleElement(channel, e));
        elements.clear();
        break;
      case TaskInbox::Taken::kTimeout:
        break;
    }
  }
  return Status::OK();
}

Status Task::FireTimers() {
  // Quiesced at end of input (FinishChain): output after that would follow the final barrier;
  // so after a stop-with-savepoint's barrier.
  if (!timers_ || finished_ || suspended_for_) return Status::OK();
  // A timer at t fires once the clock is past t, as Flink's: a record processed during
  // millisecond t still belongs to a processing-time window ending at t + 1 (so the window fires
  // once, with it).
  const int64_t due = NowUnixMs() - 1;
  auto next = timers_->NextTimer();
  if (!next.has_value() || *next > due) return Status::OK();
  StreamOperator& head = *setup_.chain.front().op;
  const int64_t outer = std::exchange(current_timestamp_, kNoTimestamp);
  Status s = timers_->FireDue(due, [&](int64_t ts, const std::string& key) {
    current_key_ = key;
    return head.OnTimer(ts);
  });
  current_timestamp_ = outer;
  WEIR_RETURN_IF_ERROR(s);
  return chain_error_;
}

Result<std::optional<int64_t>> Task::Quiet() {
  std::optional<int64_t> wake;
  const int64_t now = NowUnixMs();
  for (auto& op : setup_.chain) {
    if (!op.op) continue;
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> at, op.op->OnQuiet(now));
    if (at) wake = std::min(wake.value_or(*at), *at);
  }
  WEIR_RETURN_IF_ERROR(chain_error_);
  return wake;
}

Status Task::OnChannelWatermark(size_t channel, std::optional<int64_t> watermark, bool idle) {
  if (watermark) channel_watermarks_[channel] = std::max(channel_watermarks_[channel], *watermark);
  channel_idle_[channel] = idle;
  // The least watermark of the channels that are not idle; nothing when all are.
  std::optional<int64_t> least;
  for (size_t c = 0; c < channel_watermarks_.size(); ++c) {
    if (!channel_idle_[c]) least = std::min(least.value_or(kMaxWatermark), channel_watermarks_[c]);
  }
  if (!least) {
    if (!all_idle_) {
      all_idle_ = true;
      for (auto& w : setup_.writers) w->MarkIdle();
    }
    return Status::OK();
  }
  all_idle_ = false;
  return AdvanceWatermark(*least);
}

Status Task::AdvanceWatermark(int64_t watermark) {
  // A watermark never goes back (a channel that was idle may come back behind the others).
  if (watermark <= watermark_) return Status::OK();
  watermark_ = watermark;
  input_watermark_.store(watermark, std::memory_order_relaxed);
  StreamOperator& head = *setup_.chain.front().op;
  if (timers_) {
    const int64_t outer = current_timestamp_;
    Status s = timers_->AdvanceWatermark(watermark, [&](int64_t ts, const std::string& key) {
      current_key_ = key;
      current_timestamp_ = ts;
      return head.OnEventTimer(ts);
    });
    current_timestamp_ = outer;
    WEIR_RETURN_IF_ERROR(s);
    WEIR_RETURN_IF_ERROR(chain_error_);
  }
  WEIR_RETURN_IF_ERROR(head.ProcessWatermark(watermark, *outputs_[0]));
  return chain_error_;
}

Status Task::HandleElement(int channel, StreamElement& e) {
  const auto c = static_cast<size_t>(channel);
  switch (e.kind) {
    case StreamElement::Kind::kRecord:
      if (channel_idle_[c]) WEIR_RETURN_IF_ERROR(OnChannelWatermark(c, std::nullopt, false));
      return ProcessRecord(channel, e);
    case StreamElement::Kind::kWatermark:
      return OnChannelWatermark(c, e.timestamp, false);
    case StreamElement::Kind::kIdle:
      return OnChannelWatermark(c, std::nullopt, true);
    case StreamElement::Kind::kBarrier: {
      // Alignment time: from the first channel's barrier to the snapshot (all channels there).
      alignment_start_.try_emplace(e.checkpoint_id,
                                   FirstBarrier{std::chrono::steady_clock::now(), NowUnixMs()});
      const auto decision = aligner_->OnBarrier(channel, e.checkpoint_id);
      if (decision.abandoned.has_value()) {
        alignment_start_.erase(*decision.abandoned);
        setup_.listener->DeclineCheckpoint(
            *decision.abandoned, setup_.task_id,
            Status::Aborted("a newer barrier arrived before every channel delivered this one"));
      }
      if (decision.snapshot.has_value()) {
        if (auto it = alignment_start_.find(*decision.snapshot); it != alignment_start_.end()) {
          alignment_us_ = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - it->second.steady)
                              .count();
          barrier_unix_ms_ = it->second.unix_ms;
          alignment_start_.erase(it);
        }
        return Snapshot(*decision.snapshot, e.barrier_options());
      }
      return Status::OK();
    }
    case StreamElement::Kind::kEndOfInput: {
      if (!ended_[c]) {
        ended_[c] = true;
        // An ended channel holds no watermark back.
        WEIR_RETURN_IF_ERROR(OnChannelWatermark(c, kMaxWatermark, false));
        if (++ended_count_ == static_cast<int>(ended_.size())) return FinishChain();
      }
      return Status::OK();
    }
  }
  return Status::OK();
}

Task::Metrics Task::metrics() const {
  Metrics m;
  m.task_id = setup_.task_id;
  m.head_uid = setup_.chain.front().uid;
  m.subtask = setup_.subtask;
  m.records_in = records_in_.load(std::memory_order_relaxed);
  m.input_watermark = input_watermark_.load(std::memory_order_relaxed);
  for (const auto& w : setup_.writers) {
    m.records_out += w->records_sent();
    m.backpressure_ns += w->backpressure_ns();
    m.output_watermark = std::max(m.output_watermark, w->last_watermark());
  }
  return m;
}

Status Task::ProcessRecord(int channel, StreamElement& e) {
  // Only this thread writes the counter: a plain increment (no locked instruction per record).
  const uint64_t before = records_in_.load(std::memory_order_relaxed);
  records_in_.store(before + 1, std::memory_order_relaxed);
  // A stateful task's first record tells when a (restored) job is processing again: the end of
  // a recovery or a takeover as an operator sees it.
  if (before == 0 && setup_.backend) {
    LogInfo("job " + setup_.job_id + ": task " + setup_.task_id + " processes its first record");
  }
  current_timestamp_ = e.timestamp;
  if (setup_.backend) {
    current_key_ = std::move(e.key);
    WEIR_RETURN_IF_ERROR(setup_.backend->SetCurrentKey(current_key_));
  }
  StreamOperator& head = *setup_.chain.front().op;
  WEIR_RETURN_IF_ERROR(channel < setup_.first_input_channels
                           ? head.ProcessRecord(std::move(e.value))
                           : head.ProcessRecord2(std::move(e.value)));
  return chain_error_;
}

Status Task::FinishChain() {
  // End of input, as Flink does it: processing-time timers that are due fire now; the timer
  // service is then quiesced, and timers not yet due are dropped (they never fire). So all output
  // precedes the end of input, and the job's final checkpoint commits every bit of it.
  WEIR_RETURN_IF_ERROR(FireTimers());
  if (timers_ && timers_->size() > 0) {
    LogInfo(setup_.task_id + ": end of input; " + std::to_string(timers_->size()) +
            " processing-time timer(s) not yet due are dropped");
  }
  // A source's end of input is the end of event time: the maximum watermark goes down the chain
  // before it finishes (every event-time timer downstream fires before the final checkpoint).
  // Other tasks got it from every channel already (an ended channel counts as at the maximum).
  if (is_source()) {
    outputs_[0]->EmitWatermark(kMaxWatermark);
    WEIR_RETURN_IF_ERROR(chain_error_);
  }
  for (auto& op : setup_.chain) {
    if (op.op) WEIR_RETURN_IF_ERROR(op.op->Finish());
    WEIR_RETURN_IF_ERROR(chain_error_);
  }
  for (auto& w : setup_.writers) w->Broadcast(StreamElement::EndOfInput());
  finished_ = true;
  setup_.listener->OnTaskFinished(setup_.task_id);
  return Status::OK();
}

Status Task::Snapshot(uint64_t id, std::shared_ptr<const CheckpointOptions> options) {
  if (!options) options = std::make_shared<const CheckpointOptions>();
  if (options->terminate) suspended_for_ = id;
  const auto sync_start = std::chrono::steady_clock::now();
  TaskStateSnapshot snapshot;
  snapshot.task_id = setup_.task_id;
  snapshot.alignment_duration_us = std::exchange(alignment_us_, 0);
  // A source has no barrier to wait for: its checkpoint starts when the trigger reaches it.
  snapshot.barrier_unix_ms = std::exchange(barrier_unix_ms_, 0);
  if (snapshot.barrier_unix_ms == 0) snapshot.barrier_unix_ms = NowUnixMs();
  Status failed = Failpoints::Instance().Hit("task.snapshot");
  std::vector<std::function<Status()>> operator_work;  // the operators' asynchronous parts
  for (size_t i = 0; i < setup_.chain.size() && failed.ok(); ++i) {
    auto& op = setup_.chain[i];
    auto state = op.source ? op.source->SnapshotState(id) : op.op->SnapshotState(id);
    if (!state.ok()) {
      failed = state.status();
      break;
    }
    const TaskOperatorStateStore& lists = contexts_[i]->operator_state();
    if (state->has_value() || !lists.empty()) {
      snapshot.operator_states.push_back(
          {op.uid, setup_.subtask, std::move(*state), lists.Lists()});
    }
    if (op.op) {
      if (auto work = op.op->TakeAsyncSnapshotWork(id)) operator_work.push_back(std::move(work));
    }
  }
  std::unique_ptr<AsyncSnapshotPart> part;
  const bool backend_snapshot = setup_.backend && setup_.backend_snapshots;
  if (failed.ok() && backend_snapshot) failed = Failpoints::Instance().Hit("task.backend_snapshot");
  if (failed.ok() && backend_snapshot) {
    const auto backend_start = std::chrono::steady_clock::now();
    auto sync = setup_.backend->Snapshot(id, *options);
    snapshot.backend_sync_duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - backend_start)
                                            .count();
    if (sync.ok())
      part = std::move(sync).value();
    else
      failed = sync.status();
  }
  // The pause the snapshot costs; forwarding the barrier below can wait for room in a full
  // channel, which is backpressure, not the checkpoint's cost.
  snapshot.sync_duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - sync_start)
                                  .count();
  // The barrier goes on whatever happened here: downstream must not wait for it in vain (a
  // declined checkpoint is aborted, and the abort releases their alignment).
  for (auto& w : setup_.writers) w->Broadcast(StreamElement::Barrier(id, options));
  if (backend_snapshot) setup_.backend->BarrierForwarded();
  if (!failed.ok()) {
    setup_.listener->DeclineCheckpoint(id, setup_.task_id, failed);
    return Status::OK();
  }
  TaskListener* listener = setup_.listener;
  setup_.async_pool->Submit([listener, id, snapshot = std::move(snapshot), part = std::move(part),
                             operator_work = std::move(operator_work)]() mutable {
    const auto async_start = std::chrono::steady_clock::now();
    for (auto& work : operator_work) {
      if (Status s = work(); !s.ok()) {
        listener->DeclineCheckpoint(id, snapshot.task_id, s);
        return;
      }
    }
    if (part) {
      auto handle = part->Run();
      if (!handle.ok()) {
        listener->DeclineCheckpoint(id, snapshot.task_id, handle.status());
        return;
      }
      snapshot.backends.push_back(std::move(handle).value());
    }
    if (Status s = Failpoints::Instance().Hit("task.ack"); !s.ok()) {
      listener->DeclineCheckpoint(id, snapshot.task_id, s);
      return;
    }
    snapshot.async_duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - async_start)
                                     .count();
    listener->AcknowledgeCheckpoint(id, std::move(snapshot));
  });
  return Status::OK();
}

Status Task::HandleMail(const Mail& mail) {
  switch (mail.kind) {
    case Mail::Kind::kTriggerCheckpoint:
      return Snapshot(mail.checkpoint_id, mail.options);
    case Mail::Kind::kCheckpointComplete:
      if (setup_.backend) setup_.backend->NotifyCheckpointComplete(mail.checkpoint_id);
      for (auto& op : setup_.chain) {
        if (op.source)
          WEIR_RETURN_IF_ERROR(op.source->NotifyCheckpointComplete(mail.checkpoint_id));
        if (op.op) WEIR_RETURN_IF_ERROR(op.op->NotifyCheckpointComplete(mail.checkpoint_id));
      }
      return Status::OK();
    case Mail::Kind::kCheckpointAborted:
      if (suspended_for_ == mail.checkpoint_id) suspended_for_.reset();  // the job goes on
      aligner_->OnAbort(mail.checkpoint_id);
      alignment_start_.erase(mail.checkpoint_id);
      if (setup_.backend) setup_.backend->NotifyCheckpointAborted(mail.checkpoint_id);
      for (auto& op : setup_.chain) {
        if (op.op) op.op->NotifyCheckpointAborted(mail.checkpoint_id);
      }
      return Status::OK();
    case Mail::Kind::kEndInput:
      // Stop-with-savepoint --drain: a source ends its input as if exhausted; the job then
      // finishes and its final snapshot is the savepoint.
      if (is_source() && !finished_) return FinishChain();
      return Status::OK();
    case Mail::Kind::kStop:
      FlushWriters();
      stop_ = true;
      return Status::OK();
  }
  return Status::OK();
}

}  // namespace weir
