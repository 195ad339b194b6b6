// RecordWriter: a task's output to the next operator's subtasks. Routes each record (round robin,
// or by key group for a keyed next operator), batches per channel, and broadcasts watermarks,
// barriers and the end of input to every channel in order with the records. A watermark that
// would directly follow another in a batch replaces it (nothing came between them), so a
// watermark per record costs little.
//
// Batches go out when full, on Flush() (the task calls it before it waits for input, so a quiet
// stream is not delayed) and before any broadcast. Sending blocks while the receiving channel is
// full. The owning task's thread only.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "runtime/task_inbox.h"
#include "weir/job_graph.h"

namespace weir {

class RecordWriter final : public Output {
 public:
  struct Target {
    InputChannels* inbox;
    int channel;  // this task's channel in that inbox
  };
  RecordWriter(std::vector<Target> targets, Partitioning partitioning,
               std::function<std::string(const Record&)> key_of, int max_parallelism,
               size_t batch_size);

  void Emit(Record record) override { EmitWithTimestamp(std::move(record), kNoTimestamp); }
  void EmitWithTimestamp(Record record, int64_t timestamp) override;
  void EmitWatermark(int64_t watermark) override;
  void MarkIdle() override;
  // Sends at once (barriers, the end of input).
  void Broadcast(const StreamElement& element);
  void Flush();
  // A send found the receiver closed (the job is being cancelled).
  bool closed() const { return closed_; }
  uint64_t records_out() const { return records_out_; }
  // For readers on other threads (metrics): records handed to the channels so far, and the time
  // spent waiting on full channels (backpressure).
  uint64_t records_sent() const { return records_sent_.load(std::memory_order_relaxed); }
  int64_t backpressure_ns() const { return backpressure_ns_.load(std::memory_order_relaxed); }
  // The latest watermark emitted (kMinWatermark: none yet).
  int64_t last_watermark() const { return last_watermark_.load(std::memory_order_relaxed); }

 private:
  void Send(size_t target);

  std::vector<Target> targets_;
  Partitioning partitioning_;
  std::function<std::string(const Record&)> key_of_;
  int max_parallelism_;
  size_t batch_size_;
  std::vector<std::vector<StreamElement>> batches_;
  size_t next_ = 0;
  bool closed_ = false;
  uint64_t records_out_ = 0;
  std::atomic<uint64_t> records_sent_{0};
  std::atomic<int64_t> backpressure_ns_{0};
  std::atomic<int64_t> last_watermark_{kMinWatermark};
};

}  // namespace weir
