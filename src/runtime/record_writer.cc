#include "runtime/record_writer.h"

#include <chrono>

#include "weir/key_group.h"

namespace weir {

RecordWriter::RecordWriter(std::vector<Target> targets, Partitioning partitioning,
                           std::function<std::string(const Record&)> key_of, int max_parallelism,
                           size_t batch_size)
    : targets_(std::move(targets)),
      partitioning_(partitioning),
      key_of_(std::move(key_of)),
      max_parallelism_(max_parallelism),
      batch_size_(batch_size),
      batches_(targets_.size()) {}

void RecordWriter::EmitWithTimestamp(Record record, int64_t timestamp) {
  if (targets_.empty()) return;
  ++records_out_;
  StreamElement e;
  e.timestamp = timestamp;
  size_t target = 0;
  if (partitioning_ == Partitioning::kKeyed) {
    e.key = key_of_(record);
    const int group = AssignToKeyGroup(e.key, max_parallelism_);
    target = static_cast<size_t>(
        SubtaskForKeyGroup(max_parallelism_, static_cast<int>(targets_.size()), group));
  } else {
    target = next_;
    next_ = (next_ + 1) % targets_.size();
  }
  e.value = std::move(record);
  batches_[target].push_back(std::move(e));
  if (batches_[target].size() >= batch_size_) Send(target);
}

void RecordWriter::Send(size_t target) {
  if (batches_[target].empty()) return;
  const auto start = std::chrono::steady_clock::now();
  if (!targets_[target].inbox->Push(targets_[target].channel, &batches_[target])) closed_ = true;
  // Push returns at once unless the channel is full: its duration is the backpressure.
  backpressure_ns_.fetch_add(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count(),
      std::memory_order_relaxed);
  records_sent_.store(records_out_, std::memory_order_relaxed);
}

void RecordWriter::Flush() {
  for (size_t t = 0; t < targets_.size(); ++t) Send(t);
}

void RecordWriter::EmitWatermark(int64_t watermark) {
  last_watermark_.store(watermark, std::memory_order_relaxed);
  for (size_t t = 0; t < targets_.size(); ++t) {
    auto& batch = batches_[t];
    if (!batch.empty() && batch.back().kind == StreamElement::Kind::kWatermark) {
      batch.back().timestamp = watermark;
      continue;
    }
    batch.push_back(StreamElement::Watermark(watermark));
    if (batch.size() >= batch_size_) Send(t);
  }
}

void RecordWriter::MarkIdle() {
  for (size_t t = 0; t < targets_.size(); ++t) {
    batches_[t].push_back(StreamElement::Idle());
    Send(t);
  }
}

void RecordWriter::Broadcast(const StreamElement& element) {
  for (size_t t = 0; t < targets_.size(); ++t) {
    batches_[t].push_back(element);
    Send(t);
  }
}

}  // namespace weir
