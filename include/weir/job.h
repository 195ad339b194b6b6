// The typed job API: build a dataflow of sources, map / filter / flatMap, keyBy + keyed process
// functions (with keyed state and timers) and sinks.
//
//   JobBuilder job("wordcount");
//   job.AddSource(FileSource("in.txt"), "lines")
//       .FlatMap<std::string>(SplitWords, "split")
//       .KeyBy([](const std::string& w) { return w; })
//       .Process<std::string>(MakeFactory<CountWords>(), "count").Uid("count")
//       .SinkTo(FileSink("out/"), "sink");
//
// Builder methods return handles whose Uid(), Name() and SetParallelism() apply to the operator
// just added. The builder is used on one thread, before the job runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "weir/job_graph.h"
#include "weir/serializer.h"
#include "weir/stream_operator.h"
#include "weir/watermark.h"

namespace weir {

class WindowAssigner;  // weir/window.h
template <typename K, typename T>
class WindowedStream;  // weir/window.h

// A side output of records of type T: an operator emits to it (Output::EmitToSide, or a process
// function's Context::Output), DataStream::SideOutput(tag) reads it.
template <typename T>
struct OutputTag {
  std::string id;  // non-empty, unique among the operator's side outputs
};

template <typename T>
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void Collect(T value) = 0;
};

// A source or sink of element type T (see weir/connectors.h).
template <typename T>
struct Source {
  std::function<std::unique_ptr<SourceOperator>()> factory;
};
template <typename T>
struct Sink {
  std::function<std::unique_ptr<StreamOperator>()> factory;
};

struct RuntimeInfo {
  std::string operator_uid;
  int subtask = 0;
  int parallelism = 1;
};

// What a function sees of the record it is called for.
class ElementContext {
 public:
  virtual ~ElementContext() = default;
  // The event-time timestamp of the record (or event-time timer) being processed;
  // kNoTimestamp if it has none.
  virtual int64_t timestamp() const = 0;
  // Emits to a side output.
  template <typename X>
  void Output(const OutputTag<X>& tag, X value) {
    EmitToSide(tag.id, Record(std::move(value)));
  }

 protected:
  virtual void EmitToSide(const std::string& tag, Record record) = 0;
};

// What a keyed function sees of the record or timer it is called for: also its key and timers.
template <typename K>
class KeyedContext : public ElementContext {
 public:
  virtual const K& CurrentKey() const = 0;
  virtual TimerService& timers() = 0;
  // In OnTimer: which kind of timer fired.
  virtual TimeDomain time_domain() const = 0;
};

// Per key: processes the records of that key, with keyed state and timers (processing and event
// time). One instance per subtask; register states in Open() and keep the pointers.
template <typename K, typename IN, typename OUT>
class KeyedProcessFunction {
 public:
  using Context = KeyedContext<K>;
  virtual ~KeyedProcessFunction() = default;
  virtual Status Open(KeyedStateBackend& /*state*/, const RuntimeInfo& /*info*/) {
    return Status::OK();
  }
  virtual Status ProcessElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual Status OnTimer(int64_t /*timestamp_ms*/, Context& /*ctx*/, Collector<OUT>& /*out*/) {
    return Status::OK();
  }
};

// Per key, the records of two connected streams (a join, a control stream): both inputs keyed
// by the same key type, so each key's records of either input meet in one subtask with its
// keyed state and timers (Flink's KeyedCoProcessFunction).
template <typename K, typename IN1, typename IN2, typename OUT>
class KeyedCoProcessFunction {
 public:
  using Context = KeyedContext<K>;
  virtual ~KeyedCoProcessFunction() = default;
  virtual Status Open(KeyedStateBackend& /*state*/, const RuntimeInfo& /*info*/) {
    return Status::OK();
  }
  virtual Status ProcessElement1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual Status ProcessElement2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual Status OnTimer(int64_t /*timestamp_ms*/, Context& /*ctx*/, Collector<OUT>& /*out*/) {
    return Status::OK();
  }
};

// The records of two connected streams without keys (a control stream and a data stream, two
// feeds merged with their own logic): one instance per subtask sees whichever records reach it
// (Flink's CoProcessFunction). It has no keyed state and no timers; use a keyed Connect for those.
template <typename IN1, typename IN2, typename OUT>
class CoProcessFunction {
 public:
  using Context = ElementContext;
  virtual ~CoProcessFunction() = default;
  virtual Status Open(const RuntimeInfo& /*info*/) { return Status::OK(); }
  virtual Status ProcessElement1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual Status ProcessElement2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
};

template <typename F>
auto MakeFactory() {
  return [] { return std::make_unique<F>(); };
}

namespace internal {

class EmitCollectorBase {
 public:
  void set_output(Output* out) { out_ = out; }

 protected:
  Output* out_ = nullptr;
};
template <typename T>
class EmitCollector final : public Collector<T>, public EmitCollectorBase {
 public:
  void Collect(T value) override { out_->Emit(Record(std::move(value))); }
};

// Wraps a per-record function into a StreamOperator.
template <typename IN, typename OUT>
class FunctionOperator final : public StreamOperator {
 public:
  using Fn = std::function<void(IN&&, Collector<OUT>&)>;
  explicit FunctionOperator(Fn fn) : fn_(std::move(fn)) {}
  Status Open(OperatorContext&, const std::optional<std::string>&, Output& out) override {
    collector_.set_output(&out);
    return Status::OK();
  }
  Status ProcessRecord(Record record) override {
    IN value = std::any_cast<IN>(std::move(record));
    fn_(std::move(value), collector_);
    return Status::OK();
  }

 private:
  Fn fn_;
  EmitCollector<OUT> collector_;
};

// A keyed operator running a keyed (co-)process function FN: its key, timers and side outputs.
template <typename K, typename OUT, typename FN>
class KeyedOperatorBase : public StreamOperator, public KeyedContext<K> {
 public:
  KeyedOperatorBase(std::unique_ptr<FN> fn, SerializerPtr<K> key_serializer)
      : fn_(std::move(fn)), key_serializer_(std::move(key_serializer)) {}
  Status Open(OperatorContext& ctx, const std::optional<std::string>&, Output& out) override {
    ctx_ = &ctx;
    out_ = &out;
    collector_.set_output(&out);
    return fn_->Open(*ctx.keyed_state(), {ctx.operator_uid(), ctx.subtask(), ctx.parallelism()});
  }
  Status OnTimer(int64_t timestamp_ms) override {
    return Fire(timestamp_ms, TimeDomain::kProcessingTime);
  }
  Status OnEventTimer(int64_t timestamp_ms) override {
    return Fire(timestamp_ms, TimeDomain::kEventTime);
  }
  const K& CurrentKey() const override { return key_; }
  TimerService& timers() override { return *ctx_->timers(); }
  int64_t timestamp() const override { return ctx_->current_timestamp(); }
  TimeDomain time_domain() const override { return domain_; }

 protected:
  void EmitToSide(const std::string& tag, Record record) override {
    out_->EmitToSide(tag, std::move(record));
  }
  std::unique_ptr<FN> fn_;
  K key_{};
  EmitCollector<OUT> collector_;

 private:
  Status Fire(int64_t timestamp_ms, TimeDomain domain) {
    if (!key_serializer_->Deserialize(ctx_->current_key(), &key_)) {
      return Status::Corruption("timer of operator " + ctx_->operator_uid() +
                                ": its key does not decode with " + key_serializer_->Identity());
    }
    domain_ = domain;
    return fn_->OnTimer(timestamp_ms, *this, collector_);
  }
  SerializerPtr<K> key_serializer_;
  OperatorContext* ctx_ = nullptr;
  Output* out_ = nullptr;
  TimeDomain domain_ = TimeDomain::kProcessingTime;
};

template <typename K, typename IN, typename OUT>
class KeyedProcessOperator final
    : public KeyedOperatorBase<K, OUT, KeyedProcessFunction<K, IN, OUT>> {
 public:
  KeyedProcessOperator(std::unique_ptr<KeyedProcessFunction<K, IN, OUT>> fn,
                       std::function<K(const IN&)> key_selector, SerializerPtr<K> key_serializer)
      : KeyedOperatorBase<K, OUT, KeyedProcessFunction<K, IN, OUT>>(std::move(fn),
                                                                    std::move(key_serializer)),
        key_selector_(std::move(key_selector)) {}
  Status ProcessRecord(Record record) override {
    const IN& value = std::any_cast<const IN&>(record);
    this->key_ = key_selector_(value);
    return this->fn_->ProcessElement(value, *this, this->collector_);
  }

 private:
  std::function<K(const IN&)> key_selector_;
};

template <typename K, typename IN1, typename IN2, typename OUT>
class KeyedCoProcessOperator final
    : public KeyedOperatorBase<K, OUT, KeyedCoProcessFunction<K, IN1, IN2, OUT>> {
 public:
  KeyedCoProcessOperator(std::unique_ptr<KeyedCoProcessFunction<K, IN1, IN2, OUT>> fn,
                         std::function<K(const IN1&)> key1, std::function<K(const IN2&)> key2,
                         SerializerPtr<K> key_serializer)
      : KeyedOperatorBase<K, OUT, KeyedCoProcessFunction<K, IN1, IN2, OUT>>(
            std::move(fn), std::move(key_serializer)),
        key1_(std::move(key1)),
        key2_(std::move(key2)) {}
  Status ProcessRecord(Record record) override {
    const IN1& value = std::any_cast<const IN1&>(record);
    this->key_ = key1_(value);
    return this->fn_->ProcessElement1(value, *this, this->collector_);
  }
  Status ProcessRecord2(Record record) override {
    const IN2& value = std::any_cast<const IN2&>(record);
    this->key_ = key2_(value);
    return this->fn_->ProcessElement2(value, *this, this->collector_);
  }

 private:
  std::function<K(const IN1&)> key1_;
  std::function<K(const IN2&)> key2_;
};

template <typename IN1, typename IN2, typename OUT>
class CoProcessOperator final : public StreamOperator, public ElementContext {
 public:
  explicit CoProcessOperator(std::unique_ptr<CoProcessFunction<IN1, IN2, OUT>> fn)
      : fn_(std::move(fn)) {}
  Status Open(OperatorContext& ctx, const std::optional<std::string>&, weir::Output& out) override {
    ctx_ = &ctx;
    out_ = &out;
    collector_.set_output(&out);
    return fn_->Open({ctx.operator_uid(), ctx.subtask(), ctx.parallelism()});
  }
  Status ProcessRecord(Record record) override {
    return fn_->ProcessElement1(std::any_cast<const IN1&>(record), *this, collector_);
  }
  Status ProcessRecord2(Record record) override {
    return fn_->ProcessElement2(std::any_cast<const IN2&>(record), *this, collector_);
  }
  int64_t timestamp() const override { return ctx_->current_timestamp(); }

 protected:
  void EmitToSide(const std::string& tag, Record record) override {
    out_->EmitToSide(tag, std::move(record));
  }

 private:
  std::unique_ptr<CoProcessFunction<IN1, IN2, OUT>> fn_;
  EmitCollector<OUT> collector_;
  OperatorContext* ctx_ = nullptr;
  weir::Output* out_ = nullptr;  // qualified: ElementContext::Output is the side-output call
};

// The serialized key of a record of type T.
template <typename K, typename T>
std::function<std::string(const Record&)> KeyOf(std::function<K(const T&)> selector,
                                                SerializerPtr<K> serializer) {
  return [selector = std::move(selector), serializer = std::move(serializer)](const Record& r) {
    std::string bytes;
    serializer->Serialize(selector(std::any_cast<const T&>(r)), &bytes);
    return bytes;
  };
}

}  // namespace internal

// A handle on the operator just added.
class OperatorHandle {
 public:
  OperatorHandle(std::shared_ptr<JobGraph> graph, int index)
      : graph_(std::move(graph)), index_(index) {}
  OperatorHandle& Uid(std::string uid) {
    spec().uid = std::move(uid);
    return *this;
  }
  OperatorHandle& Name(std::string name) {
    spec().name = std::move(name);
    return *this;
  }
  OperatorHandle& SetParallelism(int parallelism) {
    spec().parallelism = parallelism;
    return *this;
  }
  int index() const { return index_; }

 protected:
  OperatorSpec& spec() { return graph_->operators[static_cast<size_t>(index_)]; }
  int Add(OperatorSpec s) {
    s.input = index_;
    graph_->operators.push_back(std::move(s));
    return static_cast<int>(graph_->operators.size()) - 1;
  }
  std::shared_ptr<JobGraph> graph_;
  int index_;
};

template <typename K, typename T>
class KeyedStream;
template <typename T, typename U>
class ConnectedStreams;

template <typename T>
class DataStream : public OperatorHandle {
 public:
  using OperatorHandle::OperatorHandle;
  DataStream& Uid(std::string uid) { return OperatorHandle::Uid(std::move(uid)), *this; }
  DataStream& Name(std::string name) { return OperatorHandle::Name(std::move(name)), *this; }
  DataStream& SetParallelism(int p) { return OperatorHandle::SetParallelism(p), *this; }

  template <typename F, typename OUT = std::decay_t<std::invoke_result_t<F, const T&>>>
  DataStream<OUT> Map(F fn, std::string name = "map") {
    return Then<OUT>(std::move(name), [fn = std::move(fn)](T&& in, Collector<OUT>& out) {
      out.Collect(fn(std::as_const(in)));
    });
  }
  DataStream<T> Filter(std::function<bool(const T&)> keep, std::string name = "filter") {
    return Then<T>(std::move(name), [keep = std::move(keep)](T&& in, Collector<T>& out) {
      if (keep(in)) out.Collect(std::move(in));
    });
  }
  template <typename OUT>
  DataStream<OUT> FlatMap(std::function<void(const T&, Collector<OUT>&)> fn,
                          std::string name = "flat-map") {
    return Then<OUT>(std::move(name),
                     [fn = std::move(fn)](T&& in, Collector<OUT>& out) { fn(in, out); });
  }
  // Partitions the stream by key: each key's records go to the one subtask that owns its key
  // group, where the next operator (Process) keeps keyed state for it.
  template <typename F, typename K = std::decay_t<std::invoke_result_t<F, const T&>>>
  KeyedStream<K, T> KeyBy(F selector, SerializerPtr<K> serializer = DefaultSerializer<K>()) {
    return KeyedStream<K, T>(graph_, index_, std::function<K(const T&)>(std::move(selector)),
                             std::move(serializer));
  }
  // Spreads records round robin over the next operator's subtasks.
  DataStream<T> Rebalance(std::string name = "rebalance") {
    DataStream<T> next = Filter([](const T&) { return true; }, std::move(name));
    graph_->operators.back().partitioning = Partitioning::kRebalance;
    return next;
  }
  // An operator of the runtime's interface (weir/stream_operator.h) reading this stream and
  // emitting records of type OUT: for what the typed steps cannot say (failing the job on a
  // malformed record, emitting watermarks).
  template <typename OUT>
  DataStream<OUT> Transform(std::function<std::unique_ptr<StreamOperator>()> factory,
                            std::string name = "transform") {
    OperatorSpec s;
    s.name = std::move(name);
    s.new_operator = std::move(factory);
    return DataStream<OUT>(graph_, Add(std::move(s)));
  }
  // Gives the records timestamps and the stream watermarks (weir/watermark.h).
  DataStream<T> AssignTimestampsAndWatermarks(WatermarkStrategy<T> strategy,
                                              std::string name = "timestamps") {
    OperatorSpec s;
    s.name = std::move(name);
    s.new_operator = [strategy = std::move(strategy)] {
      return std::make_unique<internal::TimestampsAndWatermarksOperator<T>>(strategy);
    };
    return DataStream<T>(graph_, Add(std::move(s)));
  }
  // One stream of this one's records and `other`'s (same type; both keep their own order).
  DataStream<T> Union(const DataStream<T>& other, std::string name = "union") {
    OperatorSpec s;
    s.name = std::move(name);
    s.partitioning = Partitioning::kRebalance;
    s.input2 = other.index();
    s.new_operator = [] {
      return std::make_unique<internal::FunctionOperator<T, T>>(
          [](T&& in, Collector<T>& out) { out.Collect(std::move(in)); });
    };
    return DataStream<T>(graph_, Add(std::move(s)));
  }
  // This stream and `other`, for a co-process function (ConnectedStreams::Process), keyed or not
  // (ConnectedStreams::KeyBy).
  template <typename U>
  ConnectedStreams<T, U> Connect(const DataStream<U>& other) {
    return ConnectedStreams<T, U>(graph_, index_, other.index());
  }
  // The records this operator sent to side output `tag`, as a stream.
  template <typename X>
  DataStream<X> SideOutput(const OutputTag<X>& tag, std::string name = "side-output") {
    OperatorSpec s;
    s.name = std::move(name);
    s.side_output = tag.id;
    s.new_operator = [] {
      return std::make_unique<internal::FunctionOperator<X, X>>(
          [](X&& in, Collector<X>& out) { out.Collect(std::move(in)); });
    };
    return DataStream<X>(graph_, Add(std::move(s)));
  }
  OperatorHandle SinkTo(Sink<T> sink, std::string name = "sink") {
    OperatorSpec s;
    s.name = std::move(name);
    s.new_operator = std::move(sink.factory);
    return OperatorHandle(graph_, Add(std::move(s)));
  }

 private:
  template <typename OUT>
  DataStream<OUT> Then(std::string name, typename internal::FunctionOperator<T, OUT>::Fn fn) {
    OperatorSpec s;
    s.name = std::move(name);
    s.new_operator = [fn = std::move(fn)] {
      return std::make_unique<internal::FunctionOperator<T, OUT>>(fn);
    };
    return DataStream<OUT>(graph_, Add(std::move(s)));
  }
};

template <typename K, typename T>
class KeyedStream {
 public:
  KeyedStream(std::shared_ptr<JobGraph> graph, int input, std::function<K(const T&)> selector,
              SerializerPtr<K> serializer)
      : graph_(std::move(graph)),
        input_(input),
        selector_(std::move(selector)),
        serializer_(std::move(serializer)) {}

  template <typename OUT>
  DataStream<OUT> Process(
      std::function<std::unique_ptr<KeyedProcessFunction<K, T, OUT>>()> make_function,
      std::string name = "process") {
    return AddOperator<OUT>(std::move(name),
                            [make_function, selector = selector_, serializer = serializer_] {
                              return std::make_unique<internal::KeyedProcessOperator<K, T, OUT>>(
                                  make_function(), selector, serializer);
                            });
  }
  // Cuts the stream into windows per key (weir/window.h).
  WindowedStream<K, T> Window(WindowAssigner assigner);

  // A keyed operator made by `factory` reading this stream.
  template <typename OUT>
  DataStream<OUT> AddOperator(std::string name,
                              std::function<std::unique_ptr<StreamOperator>()> factory) {
    OperatorSpec s;
    s.name = std::move(name);
    s.input = input_;
    s.partitioning = Partitioning::kKeyed;
    s.key_of = internal::KeyOf<K, T>(selector_, serializer_);
    s.new_operator = std::move(factory);
    graph_->operators.push_back(std::move(s));
    return DataStream<OUT>(graph_, static_cast<int>(graph_->operators.size()) - 1);
  }
  const std::function<K(const T&)>& selector() const { return selector_; }
  const SerializerPtr<K>& serializer() const { return serializer_; }

 private:
  std::shared_ptr<JobGraph> graph_;
  int input_;
  std::function<K(const T&)> selector_;
  SerializerPtr<K> serializer_;
};

// Two streams connected by DataStream::Connect, keyed by one key type.
template <typename K, typename T, typename U>
class KeyedConnectedStreams {
 public:
  KeyedConnectedStreams(std::shared_ptr<JobGraph> graph, int input1, int input2,
                        std::function<K(const T&)> key1, std::function<K(const U&)> key2,
                        SerializerPtr<K> serializer)
      : graph_(std::move(graph)),
        input1_(input1),
        input2_(input2),
        key1_(std::move(key1)),
        key2_(std::move(key2)),
        serializer_(std::move(serializer)) {}
  template <typename OUT>
  DataStream<OUT> Process(
      std::function<std::unique_ptr<KeyedCoProcessFunction<K, T, U, OUT>>()> make_function,
      std::string name = "co-process") {
    OperatorSpec s;
    s.name = std::move(name);
    s.input = input1_;
    s.partitioning = Partitioning::kKeyed;
    s.key_of = internal::KeyOf<K, T>(key1_, serializer_);
    s.input2 = input2_;
    s.partitioning2 = Partitioning::kKeyed;
    s.key_of2 = internal::KeyOf<K, U>(key2_, serializer_);
    s.new_operator = [make_function, key1 = key1_, key2 = key2_, serializer = serializer_] {
      return std::make_unique<internal::KeyedCoProcessOperator<K, T, U, OUT>>(make_function(), key1,
                                                                              key2, serializer);
    };
    graph_->operators.push_back(std::move(s));
    return DataStream<OUT>(graph_, static_cast<int>(graph_->operators.size()) - 1);
  }

 private:
  std::shared_ptr<JobGraph> graph_;
  int input1_;
  int input2_;
  std::function<K(const T&)> key1_;
  std::function<K(const U&)> key2_;
  SerializerPtr<K> serializer_;
};

template <typename T, typename U>
class ConnectedStreams {
 public:
  ConnectedStreams(std::shared_ptr<JobGraph> graph, int input1, int input2)
      : graph_(std::move(graph)), input1_(input1), input2_(input2) {}
  // Keys both inputs: each key's records of either input go to the same subtask.
  template <typename F1, typename F2, typename K = std::decay_t<std::invoke_result_t<F1, const T&>>>
  KeyedConnectedStreams<K, T, U> KeyBy(F1 key1, F2 key2,
                                       SerializerPtr<K> serializer = DefaultSerializer<K>()) {
    return KeyedConnectedStreams<K, T, U>(
        graph_, input1_, input2_, std::function<K(const T&)>(std::move(key1)),
        std::function<K(const U&)>(std::move(key2)), std::move(serializer));
  }
  // Without keys: each subtask's function sees the records of either input that reach it
  // (spread round robin over the subtasks).
  template <typename OUT>
  DataStream<OUT> Process(
      std::function<std::unique_ptr<CoProcessFunction<T, U, OUT>>()> make_function,
      std::string name = "co-process") {
    OperatorSpec s;
    s.name = std::move(name);
    s.input = input1_;
    s.partitioning = Partitioning::kRebalance;
    s.input2 = input2_;
    s.partitioning2 = Partitioning::kRebalance;
    s.new_operator = [make_function] {
      return std::make_unique<internal::CoProcessOperator<T, U, OUT>>(make_function());
    };
    graph_->operators.push_back(std::move(s));
    return DataStream<OUT>(graph_, static_cast<int>(graph_->operators.size()) - 1);
  }

 private:
  std::shared_ptr<JobGraph> graph_;
  int input1_;
  int input2_;
};

class JobBuilder {
 public:
  explicit JobBuilder(std::string name) : graph_(std::make_shared<JobGraph>()) {
    graph_->name = std::move(name);
  }
  template <typename T>
  DataStream<T> AddSource(Source<T> source, std::string name = "source") {
    OperatorSpec s;
    s.name = std::move(name);
    s.new_source = std::move(source.factory);
    graph_->operators.push_back(std::move(s));
    return DataStream<T>(graph_, static_cast<int>(graph_->operators.size()) - 1);
  }
  const JobGraph& graph() const { return *graph_; }
  JobGraph Build() const { return *graph_; }

 private:
  std::shared_ptr<JobGraph> graph_;
};

}  // namespace weir
