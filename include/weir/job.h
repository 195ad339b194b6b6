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

namespace weir {

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

// Per key: processes the records of that key, with keyed state and processing-time timers. One
// instance per subtask; register states in Open() and keep the pointers.
template <typename K, typename IN, typename OUT>
class KeyedProcessFunction {
 public:
  class Context {
   public:
    virtual ~Context() = default;
    virtual const K& CurrentKey() const = 0;
    virtual TimerService& timers() = 0;
  };
  virtual ~KeyedProcessFunction() = default;
  virtual Status Open(KeyedStateBackend& /*state*/, const RuntimeInfo& /*info*/) {
    return Status::OK();
  }
  virtual Status ProcessElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual Status OnTimer(int64_t /*timestamp_ms*/, Context& /*ctx*/, Collector<OUT>& /*out*/) {
    return Status::OK();
  }
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

template <typename K, typename IN, typename OUT>
class KeyedProcessOperator final : public StreamOperator,
                                   public KeyedProcessFunction<K, IN, OUT>::Context {
 public:
  KeyedProcessOperator(std::unique_ptr<KeyedProcessFunction<K, IN, OUT>> fn,
                       std::function<K(const IN&)> key_selector, SerializerPtr<K> key_serializer)
      : fn_(std::move(fn)),
        key_selector_(std::move(key_selector)),
        key_serializer_(std::move(key_serializer)) {}
  Status Open(OperatorContext& ctx, const std::optional<std::string>&, Output& out) override {
    ctx_ = &ctx;
    collector_.set_output(&out);
    return fn_->Open(*ctx.keyed_state(), {ctx.operator_uid(), ctx.subtask(), ctx.parallelism()});
  }
  Status ProcessRecord(Record record) override {
    const IN& value = std::any_cast<const IN&>(record);
    key_ = key_selector_(value);
    return fn_->ProcessElement(value, *this, collector_);
  }
  Status OnTimer(int64_t timestamp_ms) override {
    if (!key_serializer_->Deserialize(ctx_->current_key(), &key_)) {
      return Status::Corruption("timer of operator " + ctx_->operator_uid() +
                                ": its key does not decode with " + key_serializer_->Identity());
    }
    return fn_->OnTimer(timestamp_ms, *this, collector_);
  }
  const K& CurrentKey() const override { return key_; }
  TimerService& timers() override { return *ctx_->timers(); }

 private:
  std::unique_ptr<KeyedProcessFunction<K, IN, OUT>> fn_;
  std::function<K(const IN&)> key_selector_;
  SerializerPtr<K> key_serializer_;
  OperatorContext* ctx_ = nullptr;
  EmitCollector<OUT> collector_;
  K key_{};
};

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
    OperatorSpec s;
    s.name = std::move(name);
    s.input = input_;
    s.partitioning = Partitioning::kKeyed;
    s.key_of = [selector = selector_, serializer = serializer_](const Record& r) {
      std::string bytes;
      serializer->Serialize(selector(std::any_cast<const T&>(r)), &bytes);
      return bytes;
    };
    s.new_operator = [make_function, selector = selector_, serializer = serializer_] {
      return std::make_unique<internal::KeyedProcessOperator<K, T, OUT>>(make_function(), selector,
                                                                         serializer);
    };
    graph_->operators.push_back(std::move(s));
    return DataStream<OUT>(graph_, static_cast<int>(graph_->operators.size()) - 1);
  }

 private:
  std::shared_ptr<JobGraph> graph_;
  int input_;
  std::function<K(const T&)> selector_;
  SerializerPtr<K> serializer_;
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
