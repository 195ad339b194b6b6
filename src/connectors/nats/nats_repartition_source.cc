// The reading side of a repartition stream (weir/nats.h): subtask 0 reads the subject of its
// shard, "<stream>.<shard>", through an ordered consumer, emits the records and counts the end
// markers; the other subtasks end at once. Its state, a union list of one entry (so that any
// subtask finds it at any parallelism), is the subject, the stream sequence of the last message
// read, and the markers seen. The input ends when, for every shard, all subtasks of one writing
// parallelism sent their marker: a marker seen twice (a writer restored after its end) counts
// once.
#include <set>
#include <tuple>

#include "common/clock.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/retry.h"
#include "connectors/nats/nats_client.h"
#include "connectors/nats/repartition_stream.h"
#include "weir/nats.h"

namespace weir {
namespace {

using Marker = std::tuple<int, int, int>;  // shard, parallelism, subtask

class NatsRepartitionSourceOperator final : public SourceOperator {
 public:
  explicit NatsRepartitionSourceOperator(NatsRepartitionOptions options)
      : options_(std::move(options)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>&) override {
    who_ = "nats repartition source '" + ctx.operator_uid() + "' subtask " +
           std::to_string(ctx.subtask());
    if (options_.shards < 1 || options_.shard < 0 || options_.shard >= options_.shards) {
      return Status::InvalidArgument(who_ + ": shard " + std::to_string(options_.shard) + " of " +
                                     std::to_string(options_.shards) + " shards");
    }
    WEIR_ASSIGN_OR_RETURN(
        stream_, nats::RepartitionStreamName(ctx.configuration(), ctx.job_id(), options_.name));
    subject_ = stream_ + "." + std::to_string(options_.shard);
    WEIR_ASSIGN_OR_RETURN(state_, ctx.operator_state().GetUnionListState(kPositionState));
    reads_ = ctx.subtask() == 0;
    for (std::string_view entry : *state_) WEIR_RETURN_IF_ERROR(Restore(entry));
    if (!reads_) return Status::OK();
    WEIR_ASSIGN_OR_RETURN(client_, nats::NatsClient::Connect(options_.server, who_));
    // The writers may not have started yet: whichever side opens first creates the stream.
    const nats::StreamSpec spec = nats::RepartitionStreamSpec(
        stream_, std::max(nats::kDefaultDuplicateWindowMs,
                          NatsRequiredDuplicateWindowMs(ctx.configuration())));
    WEIR_RETURN_IF_ERROR(RetryRetryableResult<nats::StreamView>(who_ + ": stream " + stream_, [&] {
                           return client_->EnsureStream(spec);
                         }).status());
    seen_reconnects_ = client_->reconnects();
    return Status::OK();
  }

  Result<SourcePoll> Poll(Output& out, size_t max_records) override {
    if (!reads_ || ended_) return SourcePoll{SourcePoll::State::kEndOfInput, 0};
    if (const uint64_t r = client_->reconnects(); r != seen_reconnects_) {
      seen_reconnects_ = r;
      reader_.reset();
      LogInfo(who_ + ": reconnected to " + options_.server + "; resuming " + subject_);
    }
    const int64_t now = NowSteadyMs();
    if (!reader_) {
      if (now < retry_at_ms_) {
        return SourcePoll{SourcePoll::State::kNothingAvailable, retry_at_ms_ - now};
      }
      auto reader = nats::SubjectReader::Open(*client_, stream_, subject_, position_);
      if (!reader.ok()) return Backoff(reader.status());
      reader_ = std::move(reader).value();
    }
    size_t emitted = 0;
    while (emitted < max_records && !ended_) {
      auto next = reader_->Next(0);
      if (!next.ok()) return Backoff(next.status());
      if (!next->has_value()) break;
      nats::StreamMessage& m = **next;
      if (m.sequence <= position_) continue;  // delivered again by a re-created consumer
      WEIR_ASSIGN_OR_RETURN(
          nats::RepartitionMessage parsed,
          nats::ParseRepartitionMessage(
              m.payload, options_.shards,
              who_ + ": message " + std::to_string(m.sequence) + " of " + subject_));
      position_ = m.sequence;
      if (parsed.end) {
        const nats::EndMarker& e = parsed.marker;
        markers_.insert({e.shard, e.parallelism, e.subtask});
        ended_ = AllWritersEnded();
        if (ended_) LogInfo(who_ + ": every writer of " + stream_ + " has ended");
        continue;
      }
      out.Emit(Record(std::string(parsed.record)));
      ++emitted;
    }
    backoff_ms_ = 100;
    if (ended_) {
      reader_.reset();
      return SourcePoll{SourcePoll::State::kEndOfInput, 0};
    }
    if (emitted > 0) return SourcePoll{SourcePoll::State::kMoreAvailable, 0};
    return SourcePoll{SourcePoll::State::kNothingAvailable, nats::kIdlePollMs};
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t) override {
    state_->clear();
    if (!reads_) return std::optional<std::string>();
    std::string entry;
    PutLengthPrefixed(&entry, subject_);
    PutVarint64(&entry, position_);
    PutVarint64(&entry, markers_.size());
    for (const auto& [shard, parallelism, subtask] : markers_) {
      PutVarint64(&entry, static_cast<uint64_t>(shard));
      PutVarint64(&entry, static_cast<uint64_t>(parallelism));
      PutVarint64(&entry, static_cast<uint64_t>(subtask));
    }
    state_->push_back(std::move(entry));
    return std::optional<std::string>();
  }

  void Close() override {
    reader_.reset();
    client_.reset();
  }

 private:
  // For every shard, every subtask of one writing parallelism sent its marker.
  bool AllWritersEnded() const {
    for (int shard = 0; shard < options_.shards; ++shard) {
      bool complete = false;
      for (auto it = markers_.lower_bound({shard, 0, 0});
           !complete && it != markers_.end() && std::get<0>(*it) == shard;) {
        const int parallelism = std::get<1>(*it);
        int subtasks = 0;
        for (; it != markers_.end() && std::get<0>(*it) == shard && std::get<1>(*it) == parallelism;
             ++it) {
          ++subtasks;
        }
        complete = subtasks == parallelism;
      }
      if (!complete) return false;
    }
    return true;
  }

  Status Restore(std::string_view entry) {
    std::string_view subject;
    uint64_t position = 0, count = 0;
    if (!GetLengthPrefixed(&entry, &subject) || !GetVarint64(&entry, &position) ||
        !GetVarint64(&entry, &count) || count > entry.size()) {
      return Malformed();
    }
    if (subject != subject_) {
      return Status::InvalidArgument(who_ + ": the checkpoint read subject " +
                                     std::string(subject.substr(0, 100)) + ", this shard reads " +
                                     subject_ + " (another job name, repartition or shard?)");
    }
    std::set<Marker> markers;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t shard = 0, parallelism = 0, subtask = 0;
      if (!GetVarint64(&entry, &shard) || !GetVarint64(&entry, &parallelism) ||
          !GetVarint64(&entry, &subtask) || shard >= static_cast<uint64_t>(options_.shards) ||
          parallelism < 1 || parallelism > static_cast<uint64_t>(kMaxParallelismLimit) ||
          subtask >= parallelism) {
        return Malformed();
      }
      markers.insert(
          {static_cast<int>(shard), static_cast<int>(parallelism), static_cast<int>(subtask)});
    }
    if (!entry.empty()) return Malformed();
    position_ = position;
    markers_ = std::move(markers);
    ended_ = AllWritersEnded();
    return Status::OK();
  }

  Result<SourcePoll> Backoff(const Status& error) {
    if (!error.retryable()) return error;
    reader_.reset();
    retry_at_ms_ = NowSteadyMs() + backoff_ms_;
    LogWarn(error.message() + "; retrying in " + std::to_string(backoff_ms_) + " ms");
    const int64_t wait = backoff_ms_;
    backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, nats::kMaxBackoffMs);
    return SourcePoll{SourcePoll::State::kNothingAvailable, wait};
  }

  Status Malformed() const {
    return Status::Corruption(who_ + ": its position in the checkpoint is malformed");
  }

  static constexpr std::string_view kPositionState = "repartition-position";
  static constexpr int kMaxParallelismLimit = 32768;

  NatsRepartitionOptions options_;
  std::string who_;
  std::string stream_;
  std::string subject_;
  std::vector<std::string>* state_ = nullptr;
  bool reads_ = false;  // subtask 0 reads the subject
  std::unique_ptr<nats::NatsClient> client_;
  std::unique_ptr<nats::SubjectReader> reader_;
  uint64_t position_ = 0;  // stream sequence of the last message read
  std::set<Marker> markers_;
  bool ended_ = false;
  int64_t retry_at_ms_ = 0;
  int64_t backoff_ms_ = 100;
  uint64_t seen_reconnects_ = 0;
};

}  // namespace

Source<std::string> NatsRepartitionSource(NatsRepartitionOptions options) {
  return {[options] { return std::make_unique<NatsRepartitionSourceOperator>(options); }};
}

}  // namespace weir
