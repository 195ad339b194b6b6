// The job the runtime tests share: generated events (keyed-aggregate's keys and values) ->
// a pass-through map -> keyBy -> per-key count and sum in keyed state -> "key,count,sum" lines to
// an exactly-once file sink; failures can be injected in the map and in the keyed function.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "splitmix64.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir::testing {

struct Event {
  uint64_t key;
  uint64_t value;
};

// Throws once at each of the chosen event values, wherever they are processed first.
// Throws once at each of `at`: the records with these values or, given `armed`, the n-th record
// seen once `*armed` is true (so that a test can wait for the state it asserts on, such as a
// completed checkpoint, instead of assuming how fast the machine is).
class FailureInjector {
 public:
  explicit FailureInjector(std::set<uint64_t> at, const std::atomic<bool>* armed = nullptr)
      : pending_(std::move(at)), armed_(armed) {}
  void MaybeThrow(uint64_t value) {
    std::lock_guard<std::mutex> lock(mu_);
    if (armed_ != nullptr) {
      if (!armed_->load()) return;
      value = ++seen_armed_;
    }
    if (pending_.erase(value) > 0)
      throw std::runtime_error("injected failure at " + std::to_string(value));
  }

 private:
  std::mutex mu_;
  std::set<uint64_t> pending_;
  const std::atomic<bool>* armed_;
  uint64_t seen_armed_ = 0;
};

class CountAndSum final : public KeyedProcessFunction<uint64_t, Event, std::string> {
 public:
  explicit CountAndSum(FailureInjector* failures) : failures_(failures) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    WEIR_ASSIGN_OR_RETURN(sum_, state.GetValueState(ValueStateDescriptor<int64_t>{"sum"}));
    return Status::OK();
  }
  Status ProcessElement(const Event& e, Context&, Collector<std::string>& out) override {
    if (failures_ != nullptr) failures_->MaybeThrow(e.value);
    WEIR_ASSIGN_OR_RETURN(auto count, count_->Value());
    WEIR_ASSIGN_OR_RETURN(auto sum, sum_->Value());
    const int64_t c = count.value_or(0) + 1, s = sum.value_or(0) + static_cast<int64_t>(e.value);
    WEIR_RETURN_IF_ERROR(count_->Update(c));
    WEIR_RETURN_IF_ERROR(sum_->Update(s));
    out.Collect(std::to_string(e.key) + "," + std::to_string(c) + "," + std::to_string(s));
    return Status::OK();
  }

 private:
  FailureInjector* failures_;
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
};

inline JobGraph AggregateJob(uint64_t events, uint64_t keys, int64_t rate, const std::string& out,
                             FailureInjector* in_map, FailureInjector* in_keyed) {
  JobBuilder job("test-aggregate");
  job.AddSource(GeneratorSource<Event>(
                    events,
                    [keys](uint64_t i) {
                      return Event{examples::KeyOfEvent(i, keys), i};
                    },
                    rate),
                "events")
      .Uid("events")
      .Map(
          [in_map](const Event& e) {
            if (in_map != nullptr) in_map->MaybeThrow(e.value);
            return e;
          },
          "check")
      .Uid("check")
      .KeyBy([](const Event& e) { return e.key; })
      .Process<std::string>([in_keyed] { return std::make_unique<CountAndSum>(in_keyed); },
                            "aggregate")
      .Uid("aggregate")
      .SinkTo(FileSink(out), "sink")
      .Uid("sink");
  return job.Build();
}

}  // namespace weir::testing
