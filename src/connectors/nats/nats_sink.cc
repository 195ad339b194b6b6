// The NATS JetStream sink (weir/nats.h). Exactly-once, a batch moves through two states:
//   open       the records since the last barrier, in memory
//   pending    closed at checkpoint N's barrier and listed (records and all) in the sink's
//              operator state of N and of every later checkpoint until published
// and is published, with message ids "<job>/<operator>/<subtask>/<attempt>/<N>/<i>", when N
// completes, or on restore from a checkpoint that lists it. The ids of a batch are fixed when it
// is closed and stored with it, so publishing it again after a failure repeats them exactly and
// the stream's duplicate window drops the copies. The attempt (random per Open) keeps ids of new
// batches distinct from those of an earlier run whose checkpoint ids may be reused after a
// fallback to an older checkpoint.
#include <algorithm>
#include <random>

#include "common/clock.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/retry.h"
#include "connectors/nats/nats_client.h"
#include "weir/nats.h"

namespace weir {
namespace {

constexpr int64_t kDefaultDuplicateWindowMs = 2 * 60 * 1000;

std::string FormatDuration(int64_t ms) {
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  if (ms % 60000 != 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms / 60000) + "min";
}

struct Batch {
  uint64_t checkpoint_id = 0;
  std::string id_prefix;  // "<job>/<operator>/<subtask>/<attempt>"
  std::vector<std::string> records;
};

class NatsSinkOperator final : public StreamOperator {
 public:
  explicit NatsSinkOperator(NatsSinkOptions options) : options_(std::move(options)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored, Output&) override {
    who_ = "nats sink '" + ctx.operator_uid() + "' subtask " + std::to_string(ctx.subtask());
    subject_ = options_.subject.empty() ? options_.stream : options_.subject;
    exactly_once_ = options_.delivery == NatsDelivery::kExactlyOnce && ctx.checkpointing_enabled();
    std::mt19937_64 rng(std::random_device{}());
    char attempt[17];
    std::snprintf(attempt, sizeof(attempt), "%016llx", static_cast<unsigned long long>(rng()));
    id_prefix_ = ctx.job_id() + "/" + ctx.operator_uid() + "/" + std::to_string(ctx.subtask()) +
                 "/" + attempt;
    WEIR_ASSIGN_OR_RETURN(client_, nats::NatsClient::Connect(options_.server, who_));
    const int64_t needed = NatsRequiredDuplicateWindowMs(ctx.configuration());
    WEIR_RETURN_IF_ERROR(CheckStream(needed));
    if (restored.has_value()) {
      WEIR_RETURN_IF_ERROR(Decode(*restored));
      // Every batch of the restored checkpoint belongs to a completed checkpoint; some may have
      // been published before the failure (the stream drops those copies).
      WEIR_RETURN_IF_ERROR(PublishUpTo(UINT64_MAX));
    }
    return Status::OK();
  }

  Status ProcessRecord(Record record) override {
    open_.push_back(std::any_cast<std::string>(std::move(record)));
    if (!exactly_once_ && open_.size() >= 4096) return PublishOpen();
    return Status::OK();
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t checkpoint_id) override {
    if (!exactly_once_) {
      // At-least-once: everything before the barrier is acknowledged before the barrier goes on.
      WEIR_RETURN_IF_ERROR(PublishOpen());
      return std::optional<std::string>();
    }
    if (!open_.empty()) {
      pending_.push_back(Batch{checkpoint_id, id_prefix_, std::move(open_)});
      open_.clear();
    }
    return std::optional<std::string>(Encode());
  }

  Status NotifyCheckpointComplete(uint64_t checkpoint_id) override {
    return exactly_once_ ? PublishUpTo(checkpoint_id) : Status::OK();
  }

  Status Finish() override {
    // With checkpoints, the final checkpoint's completion publishes the last batch.
    return exactly_once_ ? Status::OK() : PublishOpen();
  }

  void Close() override { client_.reset(); }

 private:
  // The stream exists (or is created) and captures our subject, and, exactly-once, keeps message
  // ids at least `needed` ms.
  Status CheckStream(int64_t needed) {
    nats::StreamSpec spec{options_.stream, {subject_}, std::max(kDefaultDuplicateWindowMs, needed)};
    auto get = [&] {
      return options_.create_stream ? client_->EnsureStream(spec)
                                    : client_->GetStream(options_.stream);
    };
    WEIR_ASSIGN_OR_RETURN(nats::StreamView stream, RetryRetryableResult<nats::StreamView>(
                                                       who_ + ": stream " + options_.stream, get));
    if (std::none_of(stream.subjects.begin(), stream.subjects.end(),
                     [&](const std::string& s) { return nats::SubjectCovers(s, subject_); })) {
      return Status::InvalidArgument(who_ + ": stream " + options_.stream +
                                     " does not capture subject " + subject_);
    }
    if (exactly_once_ && stream.duplicate_window_ms < needed) {
      return Status::FailedPrecondition(
          who_ + ": stream " + options_.stream + " keeps message ids for " +
          FormatDuration(stream.duplicate_window_ms) + " (its duplicate window), less than the " +
          FormatDuration(needed) +
          " exactly-once publishing needs with this configuration (checkpoint interval + "
          "checkpoint timeout + restart delay); give the stream a longer duplicate window or "
          "lower execution.checkpointing.timeout");
    }
    return Status::OK();
  }

  Status PublishOpen() {
    if (open_.empty()) return Status::OK();
    WEIR_RETURN_IF_ERROR(
        client_->PublishAll(subject_, open_, {}, NowSteadyMs() + options_.publish_timeout_ms));
    open_.clear();
    return Status::OK();
  }

  Status PublishUpTo(uint64_t checkpoint_id) {
    auto it = pending_.begin();
    for (; it != pending_.end() && it->checkpoint_id <= checkpoint_id; ++it) {
      std::vector<std::string> ids;
      ids.reserve(it->records.size());
      const std::string base = it->id_prefix + "/" + std::to_string(it->checkpoint_id) + "/";
      for (size_t i = 0; i < it->records.size(); ++i) ids.push_back(base + std::to_string(i));
      WEIR_RETURN_IF_ERROR(client_->PublishAll(subject_, it->records, ids,
                                               NowSteadyMs() + options_.publish_timeout_ms));
    }
    pending_.erase(pending_.begin(), it);
    return Status::OK();
  }

  std::string Encode() const {
    std::string bytes;
    PutVarint64(&bytes, pending_.size());
    for (const Batch& b : pending_) {
      PutVarint64(&bytes, b.checkpoint_id);
      PutLengthPrefixed(&bytes, b.id_prefix);
      PutVarint64(&bytes, b.records.size());
      for (const auto& r : b.records) PutLengthPrefixed(&bytes, r);
    }
    return bytes;
  }

  Status Decode(std::string_view in) {
    uint64_t n = 0;
    bool ok = GetVarint64(&in, &n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      Batch b;
      std::string_view prefix;
      uint64_t records = 0;
      ok = GetVarint64(&in, &b.checkpoint_id) && GetLengthPrefixed(&in, &prefix) &&
           GetVarint64(&in, &records) && records <= in.size();
      b.id_prefix = prefix;
      for (uint64_t r = 0; ok && r < records; ++r) {
        std::string_view record;
        ok = GetLengthPrefixed(&in, &record);
        b.records.emplace_back(record);
      }
      pending_.push_back(std::move(b));
    }
    if (!ok || !in.empty()) {
      return Status::Corruption(who_ + ": its state in the checkpoint is malformed");
    }
    return Status::OK();
  }

  NatsSinkOptions options_;
  std::string who_;
  std::string subject_;
  bool exactly_once_ = true;
  std::string id_prefix_;
  std::unique_ptr<nats::NatsClient> client_;
  std::vector<std::string> open_;
  std::vector<Batch> pending_;  // in checkpoint order
};

}  // namespace

Sink<std::string> NatsSink(NatsSinkOptions options) {
  return {[options] { return std::make_unique<NatsSinkOperator>(options); }};
}

int64_t NatsRequiredDuplicateWindowMs(const Configuration& config) {
  int64_t ms = config.GetDurationMs(config::kInterval) + config.GetDurationMs(config::kTimeout);
  if (config.GetString(config::kRestartStrategy) == "fixed-delay") {
    ms += config.GetDurationMs(config::kRestartDelay);
  }
  return ms;
}

}  // namespace weir
