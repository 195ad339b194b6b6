// The NATS JetStream source (weir/nats.h). Each split (a subject) is read by its own ordered
// consumer; the position of a split is the stream sequence of the last message emitted from it.
// A message at or before that position (an ordered consumer re-created by libnats, or by us after
// a reconnection) is skipped, so a split never emits a message twice and never skips one. The
// positions are a union list of operator state: after a restore, at any parallelism, every
// subtask knows every split's position and takes the splits the assignment gives it.
#include <algorithm>
#include <limits>

#include "common/clock.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/retry.h"
#include "connectors/nats/nats_client.h"
#include "weir/nats.h"

namespace weir {
namespace {

constexpr uint64_t kUnbounded = std::numeric_limits<uint64_t>::max();

struct SubjectSplit {
  std::string subject;
  uint64_t position = 0;      // stream sequence of the last message emitted
  uint64_t end = kUnbounded;  // bounded: the last sequence to read
  std::unique_ptr<nats::SubjectReader> reader;
  int64_t retry_at_ms = 0;
  int64_t backoff_ms = 100;
  bool done() const { return position >= end; }
};

class NatsSourceOperator final : public SourceOperator {
 public:
  explicit NatsSourceOperator(NatsSourceOptions options) : options_(std::move(options)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored) override {
    who_ = "nats source '" + ctx.operator_uid() + "' subtask " + std::to_string(ctx.subtask());
    WEIR_ASSIGN_OR_RETURN(state_, ctx.operator_state().GetUnionListState(kPositionsState));
    WEIR_ASSIGN_OR_RETURN(client_, nats::NatsClient::Connect(options_.server, who_));
    WEIR_ASSIGN_OR_RETURN(nats::StreamView stream, RetryRetryableResult<nats::StreamView>(
                                                       who_ + ": stream " + options_.stream, [&] {
                                                         return client_->GetStream(options_.stream);
                                                       }));
    WEIR_ASSIGN_OR_RETURN(std::vector<std::string> all, ChooseSplits(stream));
    for (size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % static_cast<size_t>(ctx.parallelism())) != ctx.subtask()) continue;
      splits_.emplace_back().subject = all[i];
    }
    std::vector<bool> has_end(splits_.size(), false);
    if (restored.has_value()) {
      // A checkpoint of metadata format 2 (before list state): this subtask's splits.
      WEIR_RETURN_IF_ERROR(RestoreLegacy(*restored, &has_end));
    } else {
      for (std::string_view entry : *state_) {
        WEIR_RETURN_IF_ERROR(RestorePosition(entry, all, &has_end));
      }
    }
    for (size_t i = 0; i < splits_.size(); ++i) {
      SubjectSplit& split = splits_[i];
      if (!options_.bounded) {
        split.end = kUnbounded;
      } else if (!has_end[i]) {
        WEIR_ASSIGN_OR_RETURN(
            split.end, RetryRetryableResult<uint64_t>(who_ + ": end of " + split.subject, [&] {
              return client_->LastSequenceOf(options_.stream, split.subject);
            }));
      }
    }
    seen_reconnects_ = client_->reconnects();
    return Status::OK();
  }

  Result<SourcePoll> Poll(Output& out, size_t max_records) override {
    if (const uint64_t r = client_->reconnects(); r != seen_reconnects_) {
      // The server may have lost our consumers (a restart): read on from the positions.
      seen_reconnects_ = r;
      for (SubjectSplit& s : splits_) s.reader.reset();
      LogInfo(who_ + ": reconnected to " + options_.server + "; resuming every split");
    }
    size_t emitted = 0;
    bool open = false;
    int64_t wake_at = NowSteadyMs() + nats::kIdlePollMs;
    for (size_t k = 0; k < splits_.size() && emitted < max_records; ++k) {
      SubjectSplit& split = splits_[(next_split_ + k) % splits_.size()];
      if (split.done()) continue;
      open = true;
      WEIR_RETURN_IF_ERROR(ReadSplit(split, out, max_records, &emitted));
      if (!split.reader && !split.done()) wake_at = std::min(wake_at, split.retry_at_ms);
    }
    if (!splits_.empty()) next_split_ = (next_split_ + 1) % splits_.size();
    if (!open) return SourcePoll{SourcePoll::State::kEndOfInput, 0};
    if (emitted > 0) return SourcePoll{SourcePoll::State::kMoreAvailable, 0};
    return SourcePoll{SourcePoll::State::kNothingAvailable,
                      std::max<int64_t>(1, wake_at - NowSteadyMs())};
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t) override {
    state_->clear();
    for (const SubjectSplit& s : splits_) {
      std::string entry;
      PutLengthPrefixed(&entry, s.subject);
      PutVarint64(&entry, s.position);
      PutVarint64(&entry, s.end);
      state_->push_back(std::move(entry));
    }
    return std::optional<std::string>();
  }

  void Close() override {
    for (SubjectSplit& s : splits_) s.reader.reset();
    client_.reset();
  }

 private:
  Result<std::vector<std::string>> ChooseSplits(const nats::StreamView& stream) const {
    const std::string& filter = options_.subject_filter;
    if (filter.empty()) return stream.subjects;
    std::vector<std::string> covered;
    bool inside = false;
    for (const auto& s : stream.subjects) {
      if (nats::SubjectCovers(filter, s)) covered.push_back(s);
      if (nats::SubjectCovers(s, filter)) inside = true;
    }
    if (!covered.empty()) return covered;
    if (inside) return std::vector<std::string>{filter};
    std::string list;
    for (const auto& s : stream.subjects) list += (list.empty() ? "" : ", ") + s;
    return Status::InvalidArgument(who_ + ": subject filter " + filter +
                                   " matches none of stream " + options_.stream + "'s subjects (" +
                                   list + ")");
  }

  // Emits what has arrived on `split` (up to the budget); a retryable error closes its reader and
  // schedules a new one with backoff.
  Status ReadSplit(SubjectSplit& split, Output& out, size_t max_records, size_t* emitted) {
    const int64_t now = NowSteadyMs();
    if (!split.reader) {
      if (now < split.retry_at_ms) return Status::OK();
      auto reader =
          nats::SubjectReader::Open(*client_, options_.stream, split.subject, split.position);
      if (!reader.ok()) return Backoff(split, reader.status());
      split.reader = std::move(reader).value();
    }
    while (*emitted < max_records) {
      auto next = split.reader->Next(0);
      if (!next.ok()) return Backoff(split, next.status());
      if (!next->has_value()) break;
      nats::StreamMessage& m = **next;
      if (m.sequence <= split.position) continue;  // delivered again by a re-created consumer
      if (m.sequence > split.end) {
        split.position = split.end;
        break;
      }
      split.position = m.sequence;
      out.Emit(Record(NatsMessage{std::move(m.subject), m.sequence, std::move(m.payload)}));
      ++*emitted;
      if (split.done()) break;
    }
    split.backoff_ms = 100;
    if (split.done()) split.reader.reset();
    return Status::OK();
  }

  Status Backoff(SubjectSplit& split, const Status& error) {
    if (!error.retryable()) return error;
    split.reader.reset();
    split.retry_at_ms = NowSteadyMs() + split.backoff_ms;
    LogWarn(error.message() + "; retrying in " + std::to_string(split.backoff_ms) + " ms");
    split.backoff_ms = std::min(split.backoff_ms * 2, nats::kMaxBackoffMs);
    return Status::OK();
  }

  Status Malformed() const {
    return Status::Corruption(who_ + ": the position in the checkpoint is malformed");
  }

  // Reads one position (subject, position, end) off `in`: of one of this subtask's splits, or of
  // another subtask's. A checkpointed subject must still be among the stream's splits (`all`).
  Status ReadPosition(std::string_view* in, const std::vector<std::string>& all,
                      std::vector<bool>* has_end) {
    std::string_view subject;
    uint64_t position = 0, end = 0;
    if (!GetLengthPrefixed(in, &subject) || !GetVarint64(in, &position) || !GetVarint64(in, &end)) {
      return Malformed();
    }
    if (std::find(all.begin(), all.end(), subject) == all.end()) {
      return Status::NotFound(who_ + ": subject " + std::string(subject) + ", read up to " +
                              std::to_string(position) + " in the checkpoint, is no longer " +
                              "among the splits of stream " + options_.stream);
    }
    auto it = std::find_if(splits_.begin(), splits_.end(),
                           [&](const SubjectSplit& s) { return s.subject == subject; });
    if (it == splits_.end()) return Status::OK();  // another subtask's
    it->position = position;
    if (end != kUnbounded) {
      it->end = end;
      (*has_end)[static_cast<size_t>(it - splits_.begin())] = true;
    }
    return Status::OK();
  }

  Status RestorePosition(std::string_view entry, const std::vector<std::string>& all,
                         std::vector<bool>* has_end) {
    WEIR_RETURN_IF_ERROR(ReadPosition(&entry, all, has_end));
    return entry.empty() ? Status::OK() : Malformed();
  }

  Status RestoreLegacy(std::string_view in, std::vector<bool>* has_end) {
    std::vector<std::string> mine;
    for (const SubjectSplit& s : splits_) mine.push_back(s.subject);
    uint64_t n = 0;
    if (!GetVarint64(&in, &n)) return Malformed();
    for (uint64_t i = 0; i < n; ++i) WEIR_RETURN_IF_ERROR(ReadPosition(&in, mine, has_end));
    return in.empty() ? Status::OK() : Malformed();
  }

  static constexpr std::string_view kPositionsState = "subject-positions";

  NatsSourceOptions options_;
  std::string who_;
  std::vector<std::string>* state_ = nullptr;  // the union list of every split's position
  std::unique_ptr<nats::NatsClient> client_;
  std::vector<SubjectSplit> splits_;
  size_t next_split_ = 0;
  uint64_t seen_reconnects_ = 0;
};

}  // namespace

Source<NatsMessage> NatsSource(NatsSourceOptions options) {
  return {[options] { return std::make_unique<NatsSourceOperator>(options); }};
}

}  // namespace weir
