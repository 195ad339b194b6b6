// The generator source (weir/connectors.h). Events i = 0 .. count-1 are cut into S fixed splits
// at the job's first start (S: the smallest multiple of the parallelism P that is at least
// kMinSplits): split j holds j, j + S, j + 2S, … Subtask s starts with the splits j with
// j mod P == s and emits from them in turn, so it emits s, s + P, s + 2P, … in order. A split's
// position (its next event) is an entry of the split-distributed list "splits": after a rescale
// the splits move to their new subtasks with their positions, and every event is still emitted
// exactly once.
#include <algorithm>
#include <chrono>

#include "common/coding.h"
#include "weir/connectors.h"

namespace weir {
namespace {

constexpr uint64_t kMinSplits = 128;
constexpr std::string_view kSplitsState = "splits";

struct Split {
  uint64_t next;  // the next event of the split
  uint64_t step;  // S
};

class GeneratorSourceOperator final : public SourceOperator {
 public:
  GeneratorSourceOperator(uint64_t count, std::function<Record(uint64_t)> make, int64_t rate)
      : count_(count), make_(std::move(make)), total_rate_(rate) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored) override {
    who_ = "generator source '" + ctx.operator_uid() + "' subtask " + std::to_string(ctx.subtask());
    parallelism_ = static_cast<uint64_t>(ctx.parallelism());
    const auto subtask = static_cast<uint64_t>(ctx.subtask());
    WEIR_ASSIGN_OR_RETURN(state_, ctx.operator_state().GetListState(kSplitsState));
    if (restored.has_value()) {
      // A checkpoint of metadata format 2 (before list state): the subtask's next event, of
      // the events with i mod P == s.
      std::string_view in = *restored;
      uint64_t next = 0;
      if (!GetFixed64(&in, &next) || !in.empty() || next % parallelism_ != subtask) {
        return Malformed();
      }
      splits_.push_back({next, parallelism_});
    } else if (ctx.operator_state().is_restored()) {
      for (std::string_view entry : *state_) {
        Split split{};
        if (!GetFixed64(&entry, &split.next) || !GetVarint64(&entry, &split.step) ||
            split.step == 0 || !entry.empty()) {
          return Malformed();
        }
        splits_.push_back(split);
      }
    } else {
      const uint64_t splits = (kMinSplits + parallelism_ - 1) / parallelism_ * parallelism_;
      for (uint64_t j = subtask; j < splits; j += parallelism_) splits_.push_back({j, splits});
    }
    // Earliest first, so that the subtask emits its events in increasing order. Splits past the
    // end are kept aside: their positions stay in the checkpoint, so a job resumed with a larger
    // count goes on with them.
    std::sort(splits_.begin(), splits_.end(),
              [](const Split& a, const Split& b) { return a.next < b.next; });
    for (const Split& split : splits_) {
      if (split.next >= count_) done_.push_back(split);
    }
    std::erase_if(splits_, [&](const Split& s) { return s.next >= count_; });
    start_ = Clock::now();
    return Status::OK();
  }

  Result<SourcePoll> Poll(Output& out, size_t max_records) override {
    if (splits_.empty()) return SourcePoll{SourcePoll::State::kEndOfInput, 0};
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
    for (size_t k = 0; k < budget && !splits_.empty(); ++k) {
      if (cursor_ >= splits_.size()) cursor_ = 0;
      Split& split = splits_[cursor_];
      out.Emit(make_(split.next));
      ++emitted_;
      if (split.step >= count_ - split.next) {
        done_.push_back({split.next + split.step, split.step});
        splits_.erase(splits_.begin() + static_cast<std::ptrdiff_t>(cursor_));
      } else {
        split.next += split.step;
        ++cursor_;
      }
    }
    return SourcePoll{
        splits_.empty() ? SourcePoll::State::kEndOfInput : SourcePoll::State::kMoreAvailable, 0};
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t) override {
    state_->clear();
    const auto store = [&](const Split& split) {
      std::string entry;
      PutFixed64(&entry, split.next);
      PutVarint64(&entry, split.step);
      state_->push_back(std::move(entry));
    };
    // In emission order from the cursor on, so that a restore continues the same rotation.
    for (size_t k = 0; k < splits_.size(); ++k) store(splits_[(cursor_ + k) % splits_.size()]);
    for (const Split& split : done_) store(split);
    return std::optional<std::string>();
  }

 private:
  using Clock = std::chrono::steady_clock;

  Status Malformed() const {
    return Status::Corruption(who_ + ": the position in the checkpoint is malformed");
  }

  uint64_t count_;
  std::function<Record(uint64_t)> make_;
  int64_t total_rate_;
  std::string who_;
  uint64_t parallelism_ = 1;
  std::vector<std::string>* state_ = nullptr;
  std::vector<Split> splits_;  // not yet done
  std::vector<Split> done_;    // past the count: kept for the checkpoint
  size_t cursor_ = 0;          // the split that emits next
  uint64_t emitted_ = 0;       // since Open, for the rate limit
  Clock::time_point start_;
};

}  // namespace

std::function<std::unique_ptr<SourceOperator>()> NewGeneratorSource(
    uint64_t count, std::function<Record(uint64_t)> make, int64_t rate_per_sec) {
  return [=] { return std::make_unique<GeneratorSourceOperator>(count, make, rate_per_sec); };
}

}  // namespace weir
