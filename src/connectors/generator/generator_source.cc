// The generator source (weir/connectors.h): event i = make(i), subtask s of P emits the events
// with i mod P == s; its position is the next i.
#include <chrono>

#include "common/coding.h"
#include "weir/connectors.h"

namespace weir {
namespace {

class GeneratorSourceOperator final : public SourceOperator {
 public:
  GeneratorSourceOperator(uint64_t count, std::function<Record(uint64_t)> make, int64_t rate)
      : count_(count), make_(std::move(make)), total_rate_(rate) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored) override {
    parallelism_ = static_cast<uint64_t>(ctx.parallelism());
    next_ = static_cast<uint64_t>(ctx.subtask());
    if (restored.has_value()) {
      std::string_view in = *restored;
      if (!GetFixed64(&in, &next_) || !in.empty() ||
          next_ % parallelism_ != static_cast<uint64_t>(ctx.subtask())) {
        return Status::Corruption("generator source '" + ctx.operator_uid() + "' subtask " +
                                  std::to_string(ctx.subtask()) +
                                  ": the position in the checkpoint is malformed");
      }
    }
    start_ = Clock::now();
    return Status::OK();
  }

  Result<SourcePoll> Poll(Output& out, size_t max_records) override {
    if (next_ >= count_) return SourcePoll{SourcePoll::State::kEndOfInput, 0};
    size_t budget = max_records;
    if (total_rate_ > 0) {
      // This subtask's share of the rate, as a budget that grows with the time since Open.
      const double rate = static_cast<double>(total_rate_) / static_cast<double>(parallelism_);
      const double elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
      const double allowed = elapsed_s * rate - static_cast<double>(emitted_);
      if (allowed < 1.0) {
        const auto wait_ms = static_cast<int64_t>((1.0 - allowed) * 1000.0 / rate) + 1;
        return SourcePoll{SourcePoll::State::kNothingAvailable, wait_ms};
      }
      budget = std::min(budget, static_cast<size_t>(allowed));
    }
    for (size_t k = 0; k < budget && next_ < count_; ++k) {
      out.Emit(make_(next_));
      next_ += parallelism_;
      ++emitted_;
    }
    return SourcePoll{
        next_ >= count_ ? SourcePoll::State::kEndOfInput : SourcePoll::State::kMoreAvailable, 0};
  }

  Result<std::string> SnapshotState(uint64_t) override {
    std::string bytes;
    PutFixed64(&bytes, next_);
    return bytes;
  }

 private:
  using Clock = std::chrono::steady_clock;
  uint64_t count_;
  std::function<Record(uint64_t)> make_;
  int64_t total_rate_;
  uint64_t parallelism_ = 1;
  uint64_t next_ = 0;
  uint64_t emitted_ = 0;  // since Open, for the rate limit
  Clock::time_point start_;
};

}  // namespace

std::function<std::unique_ptr<SourceOperator>()> NewGeneratorSource(
    uint64_t count, std::function<Record(uint64_t)> make, int64_t rate_per_sec) {
  return [=] { return std::make_unique<GeneratorSourceOperator>(count, make, rate_per_sec); };
}

}  // namespace weir
