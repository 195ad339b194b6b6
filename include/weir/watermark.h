// Watermark strategies (Flink's WatermarkStrategy): how a stream's records get their event-time
// timestamps and how its watermarks follow them.
//
//   stream.AssignTimestampsAndWatermarks(
//       WatermarkStrategy<Event>::ForBoundedOutOfOrderness(std::chrono::seconds(5))
//           .WithTimestampAssigner([](const Event& e) { return e.time_ms; })
//           .WithIdleness(std::chrono::minutes(1)));
//
// Bounded out-of-orderness B: after a record with timestamp t, no record earlier than t − B is
// expected; the watermark is (largest timestamp seen) − B − 1. Weir emits a watermark whenever it
// advances (coalesced in the channels' batches, not every 200 ms as Flink's periodic emission):
// whether a record is late then depends only on the order of the input, so a job restored from a
// checkpoint decides exactly as the first run did. The watermark is checkpointed: a restored job
// starts from it, so windows neither fire early nor accept records the first run found late.
// Idleness: a subtask that receives no record for that long (processing time) is marked idle,
// and the operators after it leave it out of their watermark until it receives records again.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/stream_operator.h"

namespace weir {

template <typename T>
class WatermarkStrategy {
 public:
  using TimestampAssigner = std::function<int64_t(const T&)>;
  // Records come in timestamp order (Flink's forMonotonousTimestamps).
  static WatermarkStrategy ForMonotonousTimestamps() { return ForBoundedOutOfOrderness({}); }
  static WatermarkStrategy ForBoundedOutOfOrderness(std::chrono::milliseconds bound) {
    WatermarkStrategy s;
    s.out_of_orderness_ = bound;
    return s;
  }
  // Where a record's timestamp comes from (Unix ms, or any monotone scale); without one, the
  // timestamp the record already has (from its source).
  WatermarkStrategy WithTimestampAssigner(TimestampAssigner assigner) && {
    assigner_ = std::move(assigner);
    return std::move(*this);
  }
  WatermarkStrategy WithIdleness(std::chrono::milliseconds timeout) && {
    idleness_ = timeout;
    return std::move(*this);
  }
  const TimestampAssigner& assigner() const { return assigner_; }
  std::chrono::milliseconds out_of_orderness() const { return out_of_orderness_; }
  std::chrono::milliseconds idleness() const { return idleness_; }

 private:
  TimestampAssigner assigner_;
  std::chrono::milliseconds out_of_orderness_{0};
  std::chrono::milliseconds idleness_{0};  // 0: never idle
};

namespace internal {

// Gives records their timestamps and makes the watermarks of a WatermarkStrategy; upstream
// watermarks are swallowed, except the end of input's maximum (Flink's
// TimestampsAndWatermarksOperator).
template <typename T>
class TimestampsAndWatermarksOperator final : public StreamOperator {
 public:
  static constexpr const char* kWatermarkList = "watermark";
  explicit TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy)
      : strategy_(std::move(strategy)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>&, Output& out) override {
    ctx_ = &ctx;
    out_ = &out;
    WEIR_ASSIGN_OR_RETURN(list_, ctx.operator_state().GetUnionListState(kWatermarkList));
    // Every subtask restores the least watermark of all: downstream operators saw at most that
    // one (the least over their inputs), so nothing fires early, at any parallelism.
    std::optional<int64_t> restored;
    for (const std::string& entry : *list_) {
      int64_t w = 0;
      if (!ParseWatermark(entry, &w)) {
        return Status::Corruption("operator " + ctx.operator_uid() + ": checkpointed watermark '" +
                                  entry + "' is not a number");
      }
      restored = std::min(restored.value_or(w), w);
    }
    if (restored && *restored > kMinWatermark) {
      emitted_ = *restored;
      max_timestamp_ = *restored == kMaxWatermark ? kMaxWatermark : *restored + Bound() + 1;
      out.EmitWatermark(emitted_);
    }
    last_record_ms_ = NowMs();
    return Status::OK();
  }

  Status ProcessRecord(Record record) override {
    int64_t timestamp = ctx_->current_timestamp();
    if (strategy_.assigner()) timestamp = strategy_.assigner()(std::any_cast<const T&>(record));
    if (timestamp == kNoTimestamp) {
      return Status::InvalidArgument("operator " + ctx_->operator_uid() +
                                     ": a record has no timestamp and the watermark strategy "
                                     "has no timestamp assigner");
    }
    out_->EmitWithTimestamp(std::move(record), timestamp);
    idle_ = false;
    if (strategy_.idleness().count() > 0) last_record_ms_ = NowMs();
    if (timestamp > max_timestamp_) {
      max_timestamp_ = timestamp;
      int64_t watermark = kMinWatermark;
      if (!__builtin_sub_overflow(timestamp, Bound() + 1, &watermark) && watermark > emitted_) {
        emitted_ = watermark;
        out_->EmitWatermark(watermark);
      }
    }
    return Status::OK();
  }

  Status ProcessWatermark(int64_t watermark, Output& out) override {
    if (watermark == kMaxWatermark && emitted_ != kMaxWatermark) {
      emitted_ = kMaxWatermark;
      out.EmitWatermark(kMaxWatermark);
    }
    return Status::OK();
  }

  Result<std::optional<int64_t>> OnQuiet(int64_t now_ms) override {
    if (strategy_.idleness().count() <= 0 || idle_) return std::optional<int64_t>();
    const int64_t idle_at = last_record_ms_ + strategy_.idleness().count();
    if (now_ms < idle_at) return std::optional<int64_t>(idle_at);
    idle_ = true;
    out_->MarkIdle();
    return std::optional<int64_t>();
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t) override {
    list_->assign(1, std::to_string(emitted_));
    return std::optional<std::string>();
  }

 private:
  int64_t Bound() const { return strategy_.out_of_orderness().count(); }
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static bool ParseWatermark(const std::string& s, int64_t* out) {
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return error == std::errc() && end == s.data() + s.size() && !s.empty();
  }

  WatermarkStrategy<T> strategy_;
  OperatorContext* ctx_ = nullptr;
  Output* out_ = nullptr;
  std::vector<std::string>* list_ = nullptr;
  int64_t max_timestamp_ = kMinWatermark;
  int64_t emitted_ = kMinWatermark;
  int64_t last_record_ms_ = 0;
  bool idle_ = false;
};

}  // namespace internal
}  // namespace weir
