// Windows on keyed streams (Flink's): an assigner puts each record into time windows of its key;
// a window's contents are keyed state scoped by the window (its namespace), so they are in every
// checkpoint and move with their key when the parallelism changes; its result is emitted when the
// time reaches the window's end (event time: the watermark; processing time: the wall clock).
//
//   stream.KeyBy(...)
//       .Window(WindowAssigner::TumblingEventTime(std::chrono::minutes(1)))
//       .AllowedLateness(std::chrono::seconds(10))
//       .SideOutputLateData(late_tag)
//       .Aggregate<int64_t>(count, [](const std::string& key, const TimeWindow& w, int64_t n)
//       {...});
//
// Semantics follow Flink's default triggers: an event-time window fires once when the watermark
// passes its end − 1 (its max timestamp), then again for every late record that arrives while the
// watermark is within the allowed lateness, and is dropped after it; a record whose windows are
// all past their lateness is late: it goes to the late-data side output if there is one, and is
// dropped otherwise. Processing-time windows fire when the clock passes their end; at the end of
// bounded input only event-time windows fire (processing-time timers not yet due are dropped).
// Session windows merge: a record's window [t, t + gap) merges with every window of its key it
// touches, and their contents merge with it. Results carry the window's max timestamp.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/keyed_state_backend.h"
#include "weir/serializer.h"
#include "weir/state.h"
#include "weir/stream_operator.h"

namespace weir {

// [start, end) in milliseconds.
struct TimeWindow {
  int64_t start = 0;
  int64_t end = 0;
  int64_t max_timestamp() const { return end - 1; }
  bool Intersects(const TimeWindow& o) const { return start <= o.end && end >= o.start; }
  TimeWindow Cover(const TimeWindow& o) const {
    return {std::min(start, o.start), std::max(end, o.end)};
  }
  bool operator==(const TimeWindow&) const = default;

  // 16 bytes whose byte order is the windows' (start, end) order: a window's state namespace.
  std::string Encode() const {
    std::string out;
    for (int64_t v : {start, end}) {
      const uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
      for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(u >> shift));
    }
    return out;
  }
  static std::optional<TimeWindow> Decode(std::string_view bytes) {
    if (bytes.size() != 16) return std::nullopt;
    int64_t v[2];
    for (int i = 0; i < 2; ++i) {
      uint64_t u = 0;
      for (int b = 0; b < 8; ++b) u = (u << 8) | static_cast<uint8_t>(bytes[i * 8 + b]);
      v[i] = static_cast<int64_t>(u ^ (uint64_t{1} << 63));
    }
    return TimeWindow{v[0], v[1]};
  }
};

class WindowAssigner {
 public:
  enum class Kind : uint8_t { kTumbling, kSliding, kSession };
  using ms = std::chrono::milliseconds;

  static WindowAssigner TumblingEventTime(ms size, ms offset = ms(0)) {
    return {Kind::kTumbling, true, size, size, offset};
  }
  static WindowAssigner TumblingProcessingTime(ms size, ms offset = ms(0)) {
    return {Kind::kTumbling, false, size, size, offset};
  }
  static WindowAssigner SlidingEventTime(ms size, ms slide, ms offset = ms(0)) {
    return {Kind::kSliding, true, size, slide, offset};
  }
  static WindowAssigner SlidingProcessingTime(ms size, ms slide, ms offset = ms(0)) {
    return {Kind::kSliding, false, size, slide, offset};
  }
  static WindowAssigner EventTimeSession(ms gap) { return {Kind::kSession, true, gap, gap, ms(0)}; }
  static WindowAssigner ProcessingTimeSession(ms gap) {
    return {Kind::kSession, false, gap, gap, ms(0)};
  }

  Kind kind() const { return kind_; }
  bool event_time() const { return event_time_; }
  bool merging() const { return kind_ == Kind::kSession; }
  int64_t size_ms() const { return size_.count(); }
  int64_t slide_ms() const { return slide_.count(); }

  // What is wrong with the assigner, as Flink refuses it; OK if nothing.
  Status Validate() const {
    const char* what = kind_ == Kind::kSession ? "session gap" : "window size";
    if (size_.count() <= 0) return Status::InvalidArgument(std::string(what) + " must be positive");
    if (kind_ == Kind::kSliding && (slide_.count() <= 0 || slide_ > size_)) {
      return Status::InvalidArgument("window slide must be positive and at most the size");
    }
    if (offset_.count() < 0 ? -offset_ >= slide_ : offset_ >= slide_) {
      return Status::InvalidArgument("window offset must be smaller than the slide (or size)");
    }
    return Status::OK();
  }

  // The windows a record at `timestamp` belongs to.
  std::vector<TimeWindow> Assign(int64_t timestamp) const {
    const int64_t size = size_.count();
    if (kind_ == Kind::kSession) return {{timestamp, Saturate(timestamp, size)}};
    const int64_t slide = slide_.count();
    const int64_t last_start = StartOf(timestamp, slide);
    std::vector<TimeWindow> windows;
    for (int64_t start = last_start; start > timestamp - size; start -= slide) {
      windows.push_back({start, Saturate(start, size)});
      if (kind_ == Kind::kTumbling) break;
    }
    return windows;
  }

 private:
  WindowAssigner(Kind kind, bool event_time, ms size, ms slide, ms offset)
      : kind_(kind), event_time_(event_time), size_(size), slide_(slide), offset_(offset) {}
  // The start of the window of length `slide` (aligned at the offset) holding `timestamp`.
  int64_t StartOf(int64_t timestamp, int64_t slide) const {
    int64_t rem = (timestamp - offset_.count()) % slide;
    if (rem < 0) rem += slide;
    return timestamp - rem;
  }
  static int64_t Saturate(int64_t a, int64_t b) {
    int64_t out = 0;
    return __builtin_add_overflow(a, b, &out) ? kMaxWatermark : out;
  }
  Kind kind_;
  bool event_time_;
  ms size_;
  ms slide_;
  ms offset_;
};

namespace internal {

// A window's contents, by namespace; the window operator's only access to them.
template <typename K, typename T, typename OUT>
class WindowContents {
 public:
  virtual ~WindowContents() = default;
  virtual Status Open(KeyedStateBackend& backend) = 0;
  virtual Status Add(std::string_view ns, const T& value) = 0;
  // Folds the contents of `from` into `into` and clears `from` (merging windows).
  virtual Status Merge(std::string_view into, std::string_view from) = 0;
  virtual Status Emit(const K& key, const TimeWindow& window, std::string_view ns,
                      Collector<OUT>& out) = 0;
  virtual Status Clear(std::string_view ns) = 0;
};

inline constexpr const char* kWindowContentsState = "window-contents";

// Reduce: one value per window, the reduce of its records; `result` turns it into output.
template <typename K, typename T, typename OUT>
class ReduceContents final : public WindowContents<K, T, OUT> {
 public:
  using Result = std::function<void(const K&, const TimeWindow&, const T&, Collector<OUT>&)>;
  ReduceContents(std::function<T(const T&, const T&)> reduce, Result result,
                 SerializerPtr<T> serializer)
      : reduce_(std::move(reduce)),
        result_(std::move(result)),
        serializer_(std::move(serializer)) {}
  Status Open(KeyedStateBackend& backend) override {
    WEIR_ASSIGN_OR_RETURN(state_, backend.GetReducingState(ReducingStateDescriptor<T>{
                                      kWindowContentsState, reduce_, serializer_}));
    return Status::OK();
  }
  Status Add(std::string_view ns, const T& value) override {
    state_->SetCurrentNamespace(ns);
    return state_->Add(value);
  }
  Status Merge(std::string_view into, std::string_view from) override {
    state_->SetCurrentNamespace(from);
    WEIR_ASSIGN_OR_RETURN(std::optional<T> value, state_->Get());
    WEIR_RETURN_IF_ERROR(state_->Clear());
    if (!value) return Status::OK();
    return Add(into, *value);
  }
  Status Emit(const K& key, const TimeWindow& window, std::string_view ns,
              Collector<OUT>& out) override {
    state_->SetCurrentNamespace(ns);
    WEIR_ASSIGN_OR_RETURN(std::optional<T> value, state_->Get());
    if (value) result_(key, window, *value, out);
    return Status::OK();
  }
  Status Clear(std::string_view ns) override {
    state_->SetCurrentNamespace(ns);
    return state_->Clear();
  }

 private:
  std::function<T(const T&, const T&)> reduce_;
  Result result_;
  SerializerPtr<T> serializer_;
  ReducingState<T>* state_ = nullptr;
};

// Aggregate: one accumulator per window (merged with `merge` for session windows).
template <typename K, typename T, typename ACC, typename R, typename OUT>
class AggregateContents final : public WindowContents<K, T, OUT> {
 public:
  using Result = std::function<void(const K&, const TimeWindow&, R, Collector<OUT>&)>;
  AggregateContents(AggregateFunction<T, ACC, R> function,
                    std::function<ACC(ACC, const ACC&)> merge, Result result,
                    SerializerPtr<ACC> serializer)
      : function_(std::move(function)),
        merge_(std::move(merge)),
        result_(std::move(result)),
        serializer_(std::move(serializer)) {}
  Status Open(KeyedStateBackend& backend) override {
    WEIR_ASSIGN_OR_RETURN(state_, backend.GetValueState(ValueStateDescriptor<ACC>{
                                      kWindowContentsState, serializer_}));
    return Status::OK();
  }
  Status Add(std::string_view ns, const T& value) override {
    state_->SetCurrentNamespace(ns);
    WEIR_ASSIGN_OR_RETURN(std::optional<ACC> acc, state_->Value());
    return state_->Update(
        function_.add(acc ? std::move(*acc) : function_.create_accumulator(), value));
  }
  Status Merge(std::string_view into, std::string_view from) override {
    state_->SetCurrentNamespace(from);
    WEIR_ASSIGN_OR_RETURN(std::optional<ACC> other, state_->Value());
    WEIR_RETURN_IF_ERROR(state_->Clear());
    if (!other) return Status::OK();
    state_->SetCurrentNamespace(into);
    WEIR_ASSIGN_OR_RETURN(std::optional<ACC> acc, state_->Value());
    return state_->Update(acc ? merge_(std::move(*acc), *other) : std::move(*other));
  }
  Status Emit(const K& key, const TimeWindow& window, std::string_view ns,
              Collector<OUT>& out) override {
    state_->SetCurrentNamespace(ns);
    WEIR_ASSIGN_OR_RETURN(std::optional<ACC> acc, state_->Value());
    if (acc) result_(key, window, function_.get_result(*acc), out);
    return Status::OK();
  }
  Status Clear(std::string_view ns) override {
    state_->SetCurrentNamespace(ns);
    return state_->Clear();
  }

 private:
  AggregateFunction<T, ACC, R> function_;
  std::function<ACC(ACC, const ACC&)> merge_;
  Result result_;
  SerializerPtr<ACC> serializer_;
  ValueState<ACC>* state_ = nullptr;
};

// Process: every record of the window (a list state, appended to), handed to the function.
template <typename K, typename T, typename OUT>
class ProcessContents final : public WindowContents<K, T, OUT> {
 public:
  using Function =
      std::function<Status(const K&, const TimeWindow&, const std::vector<T>&, Collector<OUT>&)>;
  ProcessContents(Function function, SerializerPtr<T> serializer)
      : function_(std::move(function)), serializer_(std::move(serializer)) {}
  Status Open(KeyedStateBackend& backend) override {
    WEIR_ASSIGN_OR_RETURN(
        state_, backend.GetListState(ListStateDescriptor<T>{kWindowContentsState, serializer_}));
    return Status::OK();
  }
  Status Add(std::string_view ns, const T& value) override {
    state_->SetCurrentNamespace(ns);
    return state_->Add(value);
  }
  Status Merge(std::string_view into, std::string_view from) override {
    state_->SetCurrentNamespace(from);
    WEIR_ASSIGN_OR_RETURN(std::vector<T> values, state_->Get());
    WEIR_RETURN_IF_ERROR(state_->Clear());
    if (values.empty()) return Status::OK();
    state_->SetCurrentNamespace(into);
    return state_->AddAll(values);
  }
  Status Emit(const K& key, const TimeWindow& window, std::string_view ns,
              Collector<OUT>& out) override {
    state_->SetCurrentNamespace(ns);
    WEIR_ASSIGN_OR_RETURN(std::vector<T> values, state_->Get());
    if (values.empty()) return Status::OK();
    return function_(key, window, values, out);
  }
  Status Clear(std::string_view ns) override {
    state_->SetCurrentNamespace(ns);
    return state_->Clear();
  }

 private:
  Function function_;
  SerializerPtr<T> serializer_;
  ListState<T>* state_ = nullptr;
};

}  // namespace internal
}  // namespace weir

#include "weir/job.h"

namespace weir {
namespace internal {

struct WindowOptions {
  WindowAssigner assigner;
  int64_t allowed_lateness_ms = 0;
  std::string late_data_tag;  // empty: late records are dropped
};

// Emits with a fixed timestamp (a window's results carry its max timestamp).
template <typename T>
class TimestampedCollector final : public Collector<T> {
 public:
  void Reset(Output* out, int64_t timestamp) {
    out_ = out;
    timestamp_ = timestamp;
  }
  void Collect(T value) override { out_->EmitWithTimestamp(Record(std::move(value)), timestamp_); }

 private:
  Output* out_ = nullptr;
  int64_t timestamp_ = kNoTimestamp;
};

// The window operator (Flink's WindowOperator with its default triggers). Per key it keeps the
// contents of each window (WindowContents, namespace = the window); timers at each window's max
// timestamp (firing) and, with allowed lateness, at max timestamp + lateness (cleanup). A timer of
// a tumbling or sliding window names its windows by its time (the one ending just after it, the
// one it cleans up), as Flink's timers carry theirs; session windows, and the rare window whose
// end or cleanup time saturates at the maximum timestamp, are kept in an index of the key's open
// windows ("window-index": a timer finds them there, and a session finds the windows it merges
// with). A timer that finds no window contents does nothing (merged session windows leave
// theirs behind).
template <typename K, typename T, typename OUT>
class WindowOperator final : public StreamOperator {
 public:
  using Options = WindowOptions;
  WindowOperator(Options options, std::unique_ptr<WindowContents<K, T, OUT>> contents,
                 std::function<K(const T&)> key_selector, SerializerPtr<K> key_serializer)
      : options_(std::move(options)),
        contents_(std::move(contents)),
        key_selector_(std::move(key_selector)),
        key_serializer_(std::move(key_serializer)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>&, Output& out) override {
    ctx_ = &ctx;
    out_ = &out;
    if (Status s = options_.assigner.Validate(); !s.ok()) {
      return Status::InvalidArgument("window operator " + ctx.operator_uid() + ": " + s.message());
    }
    if (options_.allowed_lateness_ms < 0) {
      return Status::InvalidArgument("window operator " + ctx.operator_uid() +
                                     ": allowed lateness must not be negative");
    }
    WEIR_RETURN_IF_ERROR(contents_->Open(*ctx.keyed_state()));
    WEIR_ASSIGN_OR_RETURN(index_, ctx.keyed_state()->GetMapState(
                                      MapStateDescriptor<std::string, bool>{"window-index"}));
    return Status::OK();
  }

  Status ProcessRecord(Record record) override {
    const T& value = std::any_cast<const T&>(record);
    key_ = key_selector_(value);
    const bool event_time = options_.assigner.event_time();
    const int64_t timestamp =
        event_time ? ctx_->current_timestamp() : ctx_->timers()->CurrentProcessingTime();
    if (timestamp == kNoTimestamp) {
      return Status::InvalidArgument(
          "window operator " + ctx_->operator_uid() +
          ": a record has no timestamp (event-time windows need AssignTimestampsAndWatermarks "
          "or a source that gives records timestamps)");
    }
    std::vector<TimeWindow> windows = options_.assigner.Assign(timestamp);
    if (options_.assigner.merging()) {
      WEIR_ASSIGN_OR_RETURN(TimeWindow merged, MergeWindows(windows.front()));
      windows = {merged};
    }
    bool added = false;
    for (const TimeWindow& w : windows) {
      if (IsLate(w)) continue;
      added = true;
      const std::string ns = w.Encode();
      WEIR_RETURN_IF_ERROR(contents_->Add(ns, value));
      if (!options_.assigner.merging() && Indexed(w)) WEIR_RETURN_IF_ERROR(index_->Put(ns, true));
      if (!event_time) {
        WEIR_RETURN_IF_ERROR(ctx_->timers()->RegisterProcessingTimeTimer(w.max_timestamp()));
        continue;
      }
      if (w.max_timestamp() <= ctx_->timers()->CurrentWatermark()) {
        WEIR_RETURN_IF_ERROR(Fire(w, ns));  // a late record within the lateness: fire again
      } else {
        WEIR_RETURN_IF_ERROR(ctx_->timers()->RegisterEventTimeTimer(w.max_timestamp()));
      }
      if (CleanupTime(w) != w.max_timestamp()) {
        WEIR_RETURN_IF_ERROR(ctx_->timers()->RegisterEventTimeTimer(CleanupTime(w)));
      }
    }
    if (!added) {
      ++late_records_;
      if (!options_.late_data_tag.empty()) out_->EmitToSide(options_.late_data_tag, record);
    }
    return Status::OK();
  }

  Status OnEventTimer(int64_t timestamp) override { return OnTimerOf(timestamp, true); }
  Status OnTimer(int64_t timestamp) override { return OnTimerOf(timestamp, false); }

  // Records dropped or sent to the late-data side output since the operator opened.
  uint64_t late_records() const { return late_records_; }

 private:
  Status OnTimerOf(int64_t timestamp, bool event_time) {
    if (event_time != options_.assigner.event_time()) return Status::OK();
    if (!key_serializer_->Deserialize(ctx_->current_key(), &key_)) {
      return Status::Corruption("timer of window operator " + ctx_->operator_uid() +
                                ": its key does not decode with " + key_serializer_->Identity());
    }
    std::vector<TimeWindow> windows = WindowsOfTimer(timestamp);
    if (options_.assigner.merging() || timestamp >= kMaxWatermark - 1) {
      WEIR_ASSIGN_OR_RETURN(std::vector<TimeWindow> indexed, Windows());
      for (const TimeWindow& w : indexed) {
        if (std::find(windows.begin(), windows.end(), w) == windows.end()) windows.push_back(w);
      }
    }
    for (const TimeWindow& w : windows) {
      const std::string ns = w.Encode();
      // Event time fires at the max timestamp exactly (late records within the lateness fire
      // on arrival); processing time fires and cleans up together.
      const bool fire =
          event_time ? w.max_timestamp() == timestamp : w.max_timestamp() <= timestamp;
      if (fire) WEIR_RETURN_IF_ERROR(Fire(w, ns));
      if (event_time ? CleanupTime(w) <= timestamp : fire) {
        WEIR_RETURN_IF_ERROR(contents_->Clear(ns));
        if (options_.assigner.merging() || Indexed(w)) WEIR_RETURN_IF_ERROR(index_->Remove(ns));
      }
    }
    return Status::OK();
  }

  // Tumbling and sliding windows: the windows a timer at `t` can be for — the one whose max
  // timestamp it is and, with allowed lateness, the one whose cleanup time it is. (A candidate
  // that never got a record has no contents: firing it emits nothing.)
  std::vector<TimeWindow> WindowsOfTimer(int64_t t) const {
    std::vector<TimeWindow> out;
    if (options_.assigner.merging()) return out;
    const int64_t size = options_.assigner.size_ms();
    const auto ending_after = [&](int64_t max_timestamp) {
      int64_t end = 0, start = 0;
      if (!__builtin_add_overflow(max_timestamp, 1, &end) &&
          !__builtin_sub_overflow(end, size, &start)) {
        out.push_back({start, end});
      }
    };
    ending_after(t);
    int64_t fired_at = 0;
    const int64_t lateness = options_.assigner.event_time() ? options_.allowed_lateness_ms : 0;
    if (lateness > 0 && !__builtin_sub_overflow(t, lateness, &fired_at)) ending_after(fired_at);
    return out;
  }

  // Whether a tumbling or sliding window is kept in the index: only when its timers cannot name
  // it (its end or its cleanup time saturated at the maximum timestamp).
  bool Indexed(const TimeWindow& w) const {
    return w.end == kMaxWatermark || CleanupTime(w) == kMaxWatermark;
  }

  Status Fire(const TimeWindow& w, const std::string& ns) {
    collector_.Reset(out_, w.max_timestamp());
    return contents_->Emit(key_, w, ns, collector_);
  }

  Result<std::vector<TimeWindow>> Windows() {
    std::vector<TimeWindow> windows;
    WEIR_ASSIGN_OR_RETURN(std::vector<std::string> keys, index_->Keys());
    for (const std::string& bytes : keys) {
      auto w = TimeWindow::Decode(bytes);
      if (!w) {
        return Status::Corruption("window operator " + ctx_->operator_uid() +
                                  ": a window of its index is not 16 bytes");
      }
      windows.push_back(*w);
    }
    return windows;
  }

  // Session windows: merges `w` with every window of the key it touches (their contents go into
  // the merged window's); returns the merged window, now in the index.
  Result<TimeWindow> MergeWindows(TimeWindow w) {
    WEIR_ASSIGN_OR_RETURN(std::vector<TimeWindow> windows, Windows());
    std::vector<TimeWindow> touched;
    for (const TimeWindow& other : windows) {
      if (other.Intersects(w)) touched.push_back(other);
    }
    TimeWindow merged = w;
    for (const TimeWindow& other : touched) merged = merged.Cover(other);
    const std::string into = merged.Encode();
    for (const TimeWindow& other : touched) {
      if (other == merged) continue;
      const std::string from = other.Encode();
      WEIR_RETURN_IF_ERROR(contents_->Merge(into, from));
      WEIR_RETURN_IF_ERROR(index_->Remove(from));
    }
    WEIR_RETURN_IF_ERROR(index_->Put(into, true));
    return merged;
  }

  int64_t CleanupTime(const TimeWindow& w) const {
    if (!options_.assigner.event_time()) return w.max_timestamp();
    int64_t out = 0;
    return __builtin_add_overflow(w.max_timestamp(), options_.allowed_lateness_ms, &out)
               ? kMaxWatermark
               : out;
  }
  bool IsLate(const TimeWindow& w) const {
    return options_.assigner.event_time() && CleanupTime(w) <= ctx_->timers()->CurrentWatermark();
  }

  Options options_;
  std::unique_ptr<WindowContents<K, T, OUT>> contents_;
  std::function<K(const T&)> key_selector_;
  SerializerPtr<K> key_serializer_;
  OperatorContext* ctx_ = nullptr;
  Output* out_ = nullptr;
  MapState<std::string, bool>* index_ = nullptr;
  TimestampedCollector<OUT> collector_;
  K key_{};
  uint64_t late_records_ = 0;
};

}  // namespace internal

// A keyed stream cut into windows (KeyedStream::Window): configure lateness and late data, then
// say what a window computes.
template <typename K, typename T>
class WindowedStream {
 public:
  WindowedStream(KeyedStream<K, T> keyed, WindowAssigner assigner)
      : keyed_(std::move(keyed)), options_{std::move(assigner), 0, {}} {}

  WindowedStream& AllowedLateness(std::chrono::milliseconds lateness) {
    options_.allowed_lateness_ms = lateness.count();
    return *this;
  }
  // Late records go to this side output (DataStream::SideOutput) instead of being dropped.
  WindowedStream& SideOutputLateData(const OutputTag<T>& tag) {
    options_.late_data_tag = tag.id;
    return *this;
  }

  // Each window's records reduced to one value of their type.
  DataStream<T> Reduce(std::function<T(const T&, const T&)> reduce, std::string name = "window",
                       SerializerPtr<T> serializer = DefaultSerializer<T>()) {
    auto result = [](const K&, const TimeWindow&, const T& v, Collector<T>& out) {
      out.Collect(v);
    };
    return Add<T>(std::move(name), [=] {
      return std::make_unique<internal::ReduceContents<K, T, T>>(reduce, result, serializer);
    });
  }
  // Each window's records folded into an accumulator; `result` makes the output from the key,
  // the window and the aggregate. `merge` joins two accumulators (session windows need it).
  template <typename OUT, typename ACC, typename R>
  DataStream<OUT> Aggregate(
      AggregateFunction<T, ACC, R> function,
      std::type_identity_t<std::function<OUT(const K& key, const TimeWindow& window, R aggregate)>>
          result,
      std::type_identity_t<std::function<ACC(ACC, const ACC&)>> merge = nullptr,
      std::string name = "window", SerializerPtr<ACC> serializer = DefaultSerializer<ACC>()) {
    auto emit = [result](const K& k, const TimeWindow& w, R r, Collector<OUT>& out) {
      out.Collect(result(k, w, std::move(r)));
    };
    return Add<OUT>(std::move(name), [=] {
      return std::make_unique<internal::AggregateContents<K, T, ACC, R, OUT>>(function, merge, emit,
                                                                              serializer);
    });
  }
  // Every record of the window at once (kept as a list until the window fires).
  template <typename OUT>
  DataStream<OUT> Process(
      std::type_identity_t<
          std::function<Status(const K& key, const TimeWindow& window,
                               const std::vector<T>& records, Collector<OUT>& out)>>
          function,
      std::string name = "window", SerializerPtr<T> serializer = DefaultSerializer<T>()) {
    return Add<OUT>(std::move(name), [=] {
      return std::make_unique<internal::ProcessContents<K, T, OUT>>(function, serializer);
    });
  }
  const WindowAssigner& assigner() const { return options_.assigner; }

 private:
  template <typename OUT>
  DataStream<OUT> Add(
      std::string name,
      std::function<std::unique_ptr<internal::WindowContents<K, T, OUT>>()> contents) {
    auto options = options_;
    auto selector = keyed_.selector();
    auto serializer = keyed_.serializer();
    return keyed_.template AddOperator<OUT>(std::move(name), [=] {
      return std::make_unique<internal::WindowOperator<K, T, OUT>>(options, contents(), selector,
                                                                   serializer);
    });
  }
  KeyedStream<K, T> keyed_;
  internal::WindowOptions options_;
};

template <typename K, typename T>
WindowedStream<K, T> KeyedStream<K, T>::Window(WindowAssigner assigner) {
  return WindowedStream<K, T>(*this, std::move(assigner));
}

}  // namespace weir
