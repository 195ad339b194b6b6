// TaskInbox: everything that reaches one task, consumed by the task's thread alone: its input
// channels (one bounded queue per upstream subtask) and its mailbox (control messages: trigger a
// checkpoint, a checkpoint completed or was aborted, stop).
//
// One mutex guards both, so the task sleeps on one condition until mail, input on a channel it
// may read, or a timer's deadline. A sender blocks while its channel is full (backpressure),
// until the task takes from it or the inbox is closed. Mail is always taken before input.
// Thread-safe: any number of senders, one consumer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/stream_element.h"

namespace weir {

// Where a sender's batches go: the receiving task's inbox today; a network or log channel when
// subtasks run in other processes.
class InputChannels {
 public:
  virtual ~InputChannels() = default;
  // Appends `batch` to `channel` (and clears it); blocks while the channel is full. False when
  // the receiver is gone (the job is being cancelled); the batch is then dropped.
  virtual bool Push(int channel, std::vector<StreamElement>* batch) = 0;
};

struct Mail {
  // kEndInput: a source ends its input now (stop-with-savepoint --drain).
  enum class Kind { kTriggerCheckpoint, kCheckpointComplete, kCheckpointAborted, kEndInput, kStop };
  Mail() = default;
  Mail(Kind k, uint64_t id, std::shared_ptr<const CheckpointOptions> o = nullptr)
      : kind(k), checkpoint_id(id), options(std::move(o)) {}
  Kind kind = Kind::kStop;
  uint64_t checkpoint_id = 0;
  std::shared_ptr<const CheckpointOptions> options;  // kTriggerCheckpoint; null: a checkpoint
};

class TaskInbox final : public InputChannels {
 public:
  using Clock = std::chrono::steady_clock;
  TaskInbox(int num_channels, size_t channel_capacity);

  int num_channels() const { return static_cast<int>(channels_.size()); }

  bool Push(int channel, std::vector<StreamElement>* batch) override;
  void Post(Mail mail);
  // Wakes every waiter for good: Push returns false, Take returns kClosed.
  void Close();

  enum class Taken { kMail, kElements, kTimeout, kClosed };
  // Takes mail if there is any; else elements from one channel that is not `blocked` (up to
  // `max_elements`, stopping after a barrier), rotating over channels; else waits until
  // `deadline` (forever when nullopt, not at all when `wait` is false -> kTimeout).
  Taken Take(const std::vector<bool>& blocked, bool wait, std::optional<Clock::time_point> deadline,
             size_t max_elements, Mail* mail, std::vector<StreamElement>* elements, int* channel);

  // Elements queued on all channels (for backpressure figures and tests).
  size_t QueuedElements() const;

 private:
  bool TakeElementsLocked(const std::vector<bool>& blocked, size_t max_elements,
                          std::vector<StreamElement>* elements, int* channel);

  size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable consumer_cv_;
  std::condition_variable sender_cv_;
  std::vector<std::deque<StreamElement>> channels_;
  std::deque<Mail> mailbox_;
  size_t next_channel_ = 0;
  bool closed_ = false;
};

}  // namespace weir
