// keyed-aggregate: the workload tests and benchmarks share. A generator of --events events over
// --keys keys (event i: key i while i < keys, then splitmix64(i) mod keys; value i); per key a
// count, a sum and a --payload-bytes deterministic payload in keyed state; every event emits
// "key,count,sum" to an exactly-once file sink.
#include <atomic>
#include <mutex>

#include "bundled_jobs.h"
#include "job_args.h"
#include "payload.h"
#include "splitmix64.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir::examples {
namespace {

struct Event {
  uint64_t key;
  uint64_t value;
  std::chrono::steady_clock::time_point created;
};

struct Probe {
  std::mutex mu;
  std::atomic<bool> has_first_event{false};
  std::optional<std::chrono::steady_clock::time_point> first_event;
  std::vector<double> latencies_us;
};
Probe& TheProbe() {
  static Probe probe;
  return probe;
}

void Observe(const Event& e) {
  Probe& p = TheProbe();
  const bool sample = e.value % 16 == 0;
  if (!sample && p.has_first_event.load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(p.mu);
  if (!p.first_event) p.first_event = now;
  p.has_first_event = true;
  if (sample) {
    p.latencies_us.push_back(std::chrono::duration<double, std::micro>(now - e.created).count());
  }
}

class Aggregate final : public KeyedProcessFunction<uint64_t, Event, std::string> {
 public:
  explicit Aggregate(size_t payload_bytes) : payload_bytes_(payload_bytes) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    WEIR_ASSIGN_OR_RETURN(sum_, state.GetValueState(ValueStateDescriptor<int64_t>{"sum"}));
    WEIR_ASSIGN_OR_RETURN(payload_,
                          state.GetValueState(ValueStateDescriptor<std::string>{"payload"}));
    return Status::OK();
  }
  Status ProcessElement(const Event& e, Context&, Collector<std::string>& out) override {
    Observe(e);
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> count, count_->Value());
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> sum, sum_->Value());
    const int64_t c = count.value_or(0) + 1;
    const int64_t s = sum.value_or(0) + static_cast<int64_t>(e.value);
    WEIR_RETURN_IF_ERROR(count_->Update(c));
    WEIR_RETURN_IF_ERROR(sum_->Update(s));
    if (payload_bytes_ > 0)
      WEIR_RETURN_IF_ERROR(payload_->Update(PayloadOf(e.key, c, payload_bytes_)));
    out.Collect(std::to_string(e.key) + "," + std::to_string(c) + "," + std::to_string(s));
    return Status::OK();
  }

 private:
  size_t payload_bytes_;
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
  ValueState<std::string>* payload_ = nullptr;
};

}  // namespace

void KeyedAggregateProbe::Reset() {
  std::lock_guard<std::mutex> lock(TheProbe().mu);
  TheProbe().first_event.reset();
  TheProbe().has_first_event = false;
  TheProbe().latencies_us.clear();
}

std::optional<std::chrono::steady_clock::time_point> KeyedAggregateProbe::FirstEvent() {
  std::lock_guard<std::mutex> lock(TheProbe().mu);
  return TheProbe().first_event;
}

std::vector<double> KeyedAggregateProbe::LatenciesUs() {
  std::lock_guard<std::mutex> lock(TheProbe().mu);
  return TheProbe().latencies_us;
}

Result<JobGraph> BuildKeyedAggregate(const std::vector<std::string>& args) {
  CLI::App app{"per-key count and sum over generated events", "keyed-aggregate"};
  uint64_t events = 1000000, keys = 10000;
  size_t payload_bytes = 100;
  int64_t rate = 0;
  std::string output;
  app.add_option("--events", events, "events to generate (M)");
  app.add_option("--keys", keys, "distinct keys (N)")->check(CLI::PositiveNumber);
  app.add_option("--payload-bytes", payload_bytes, "bytes of payload state per key");
  app.add_option("--rate", rate, "events per second over all generator subtasks; 0: unbounded");
  app.add_option("--output", output, "directory of the committed output")->required();
  WEIR_RETURN_IF_ERROR(ParseJobArgs(app, args));

  JobBuilder job("keyed-aggregate");
  job.AddSource(GeneratorSource<Event>(
                    events,
                    [keys](uint64_t i) {
                      return Event{KeyOfEvent(i, keys), i, std::chrono::steady_clock::now()};
                    },
                    rate),
                "events")
      .Uid("events")
      .KeyBy([](const Event& e) { return e.key; })
      .Process<std::string>([payload_bytes] { return std::make_unique<Aggregate>(payload_bytes); },
                            "aggregate")
      .Uid("aggregate")
      .SinkTo(FileSink(output), "sink")
      .Uid("sink");
  return job.Build();
}

}  // namespace weir::examples
