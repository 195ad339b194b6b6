// The NATS JetStream sink (weir/nats.h). Exactly-once, a batch moves through two states:
//   open       the records since the last barrier, in memory
//   pending    closed at checkpoint N's barrier and listed (records and all) in the sink's
//              operator state of N and of every later checkpoint until its publication is
//              confirmed
// and is published, with message ids "<job>/<operator>/<subtask>/<attempt>/<N>/<i>", when N
// completes (by the BatchPublisher's thread, while the subtask goes on), or on restore from a
// checkpoint that lists it. The ids of a batch are fixed when it
// is closed and stored with it, so publishing it again after a failure repeats them exactly and
// the stream's duplicate window drops the copies. The attempt (random per Open) keeps ids of new
// batches distinct from those of an earlier run whose checkpoint ids may be reused after a
// fallback to an older checkpoint. The pending batches are a split-distributed list of operator
// state, one entry per batch: restored at another parallelism, each batch is published by
// exactly one new subtask, under the ids it was closed with.
#include <algorithm>
#include <deque>
#include <random>

#include "common/clock.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/retry.h"
#include "connectors/nats/batch_publisher.h"
#include "connectors/nats/nats_client.h"
#include "connectors/nats/repartition_stream.h"
#include "weir/nats.h"

namespace weir {
namespace {

std::string FormatDuration(int64_t ms) {
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  if (ms % 60000 != 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms / 60000) + "min";
}

using Batch = nats::OutgoingBatch;

// Records per batch when publishing at once (at-least-once, or without checkpoints).
constexpr size_t kAtOnceBatch = 4096;

// A repartition sink (NatsRepartitionSink) is this sink writing each record, framed, to the
// subject of its shard of a repartition stream, and end markers at its end of input.
struct Routing {
  NatsRepartitionOptions options;
  std::function<int(const std::string&)> shard_of;
};

class NatsSinkOperator final : public StreamOperator {
 public:
  explicit NatsSinkOperator(NatsSinkOptions options, std::optional<Routing> routing = std::nullopt)
      : options_(std::move(options)), routing_(std::move(routing)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored, Output&) override {
    who_ = std::string(routing_ ? "nats repartition sink '" : "nats sink '") + ctx.operator_uid() +
           "' subtask " + std::to_string(ctx.subtask());
    subject_ = options_.subject.empty() ? options_.stream : options_.subject;
    if (routing_) {
      WEIR_ASSIGN_OR_RETURN(
          options_.stream,
          nats::RepartitionStreamName(ctx.configuration(), ctx.job_id(), routing_->options.name));
      subject_ = options_.stream;  // + ".<shard>" per record
      const NatsRepartitionOptions& r = routing_->options;
      if (r.shards < 1 || r.shard < 0 || r.shard >= r.shards) {
        return Status::InvalidArgument(who_ + ": shard " + std::to_string(r.shard) + " of " +
                                       std::to_string(r.shards) + " shards");
      }
      marker_ = {routing_->options.shard, ctx.subtask(), ctx.parallelism()};
    }
    exactly_once_ = options_.delivery == NatsDelivery::kExactlyOnce && ctx.checkpointing_enabled();
    std::mt19937_64 rng(std::random_device{}());
    char attempt[17];
    std::snprintf(attempt, sizeof(attempt), "%016llx", static_cast<unsigned long long>(rng()));
    id_prefix_ = ctx.job_id() + "/" + ctx.operator_uid() + "/" + std::to_string(ctx.subtask()) +
                 "/" + attempt;
    WEIR_ASSIGN_OR_RETURN(state_, ctx.operator_state().GetListState(kBatchesState));
    WEIR_ASSIGN_OR_RETURN(client_, nats::NatsClient::Connect(options_.server, who_));
    const int64_t needed = NatsRequiredDuplicateWindowMs(ctx.configuration());
    WEIR_RETURN_IF_ERROR(CheckStream(needed));
    if (restored.has_value()) {
      // A checkpoint of metadata format 2 (before list state): this subtask's batches.
      WEIR_RETURN_IF_ERROR(DecodeLegacy(*restored));
    } else {
      for (std::string_view entry : *state_) {
        WEIR_RETURN_IF_ERROR(DecodeBatch(&entry));
        if (!entry.empty()) return Malformed();
      }
    }
    // Every batch of the restored checkpoint belongs to a completed checkpoint; some may have
    // been published before the failure (the stream drops those copies).
    for (const auto& b : pending_) {
      WEIR_RETURN_IF_ERROR(client_->PublishAll(nats::SubjectsOf(*b, subject_), b->records,
                                               nats::MessageIds(*b),
                                               NowSteadyMs() + options_.publish_timeout_ms));
    }
    pending_.clear();
    state_->clear();
    publisher_ =
        std::make_unique<nats::BatchPublisher>(*client_, subject_, options_.publish_timeout_ms);
    return Status::OK();
  }

  Status ProcessRecord(Record record) override {
    if (routing_) {
      WEIR_RETURN_IF_ERROR(Route(std::any_cast<const std::string&>(record)));
    } else {
      open_.push_back(std::any_cast<std::string>(std::move(record)));
    }
    if (!exactly_once_ && open_.size() >= kAtOnceBatch) {
      HandOver(0, "");
      return publisher_->error();
    }
    return Status::OK();
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t checkpoint_id) override {
    if (!exactly_once_) {
      // At-least-once: everything before the barrier is acknowledged before the barrier goes on.
      HandOver(0, "");
      WEIR_RETURN_IF_ERROR(publisher_->Drain());
      return std::optional<std::string>();
    }
    WEIR_RETURN_IF_ERROR(publisher_->error());
    // Batches the publisher confirmed need no longer be in checkpoints.
    const uint64_t confirmed = publisher_->confirmed_through();
    while (handed_ > 0 && pending_.front()->checkpoint_id <= confirmed) {
      pending_.pop_front();
      --handed_;
    }
    if (!open_.empty()) {
      auto batch = std::make_shared<Batch>();
      batch->checkpoint_id = checkpoint_id;
      batch->id_prefix = id_prefix_;
      batch->records = std::move(open_);
      batch->partitions = std::move(open_partitions_);
      open_.clear();
      open_partitions_.clear();
      pending_.push_back(std::move(batch));
    }
    state_->clear();
    for (const auto& b : pending_) state_->push_back(EncodeBatch(*b));
    return std::optional<std::string>();
  }

  Status NotifyCheckpointComplete(uint64_t checkpoint_id) override {
    if (!exactly_once_) return Status::OK();
    for (; handed_ < pending_.size() && pending_[handed_]->checkpoint_id <= checkpoint_id;
         ++handed_) {
      publisher_->Enqueue(pending_[handed_]);
    }
    // After the end of input this is the final checkpoint: the job ends once it is published.
    return finished_ ? publisher_->Drain() : publisher_->error();
  }

  Status Finish() override {
    finished_ = true;
    if (routing_) {
      // Every shard's reader counts the markers of every writer: its input ends with the last.
      for (int shard = 0; shard < routing_->options.shards; ++shard) {
        open_.push_back(nats::EndMarkerMessage(marker_));
        open_partitions_.push_back(shard);
      }
    }
    // With checkpoints, the final checkpoint's completion publishes the last batch.
    if (exactly_once_) return Status::OK();
    HandOver(0, "");
    return publisher_->Drain();
  }

  void Close() override {
    publisher_.reset();
    client_.reset();
  }

 private:
  // A record of a repartition sink, framed, bound for its key's shard.
  Status Route(const std::string& record) {
    const int shard = routing_->shard_of(record);
    if (shard < 0 || shard >= routing_->options.shards) {
      return Status::InvalidArgument(
          who_ + ": record '" + record.substr(0, 80) + "' maps to shard " + std::to_string(shard) +
          ", not one of 0.." + std::to_string(routing_->options.shards - 1));
    }
    open_.push_back(nats::RecordMessage(record));
    open_partitions_.push_back(shard);
    return Status::OK();
  }

  // The stream exists (or is created) and captures our subject, and, exactly-once, keeps message
  // ids at least `needed` ms.
  Status CheckStream(int64_t needed) {
    const int64_t window = std::max(nats::kDefaultDuplicateWindowMs, needed);
    nats::StreamSpec spec = routing_ ? nats::RepartitionStreamSpec(options_.stream, window)
                                     : nats::StreamSpec{options_.stream, {subject_}, window};
    const std::string captured = routing_ ? subject_ + ".*" : subject_;
    auto get = [&] {
      return options_.create_stream ? client_->EnsureStream(spec)
                                    : client_->GetStream(options_.stream);
    };
    WEIR_ASSIGN_OR_RETURN(nats::StreamView stream, RetryRetryableResult<nats::StreamView>(
                                                       who_ + ": stream " + options_.stream, get));
    if (std::none_of(stream.subjects.begin(), stream.subjects.end(),
                     [&](const std::string& s) { return nats::SubjectCovers(s, captured); })) {
      return Status::InvalidArgument(who_ + ": stream " + options_.stream +
                                     " does not capture subject " + captured);
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

  // The open records go to the publisher as one batch (published at once, without ids).
  void HandOver(uint64_t checkpoint_id, std::string id_prefix) {
    if (open_.empty()) return;
    auto batch = std::make_shared<Batch>();
    batch->checkpoint_id = checkpoint_id;
    batch->id_prefix = std::move(id_prefix);
    batch->records = std::move(open_);
    batch->partitions = std::move(open_partitions_);
    open_.clear();
    open_partitions_.clear();
    publisher_->Enqueue(std::move(batch));
  }

  static std::string EncodeBatch(const Batch& b) {
    std::string bytes;
    PutVarint64(&bytes, b.checkpoint_id);
    PutLengthPrefixed(&bytes, b.id_prefix);
    PutVarint64(&bytes, b.records.size());
    for (const auto& r : b.records) PutLengthPrefixed(&bytes, r);
    // A repartition sink's batch: the shard of every record (a plain sink's entry ends here).
    if (!b.partitions.empty()) {
      PutVarint64(&bytes, b.partitions.size());
      for (int32_t p : b.partitions) PutVarint64(&bytes, static_cast<uint64_t>(p));
    }
    return bytes;
  }

  // One batch off `in`, appended to the pending ones. A repartition sink's batches list every
  // record's shard, which must be one of the job's.
  Status DecodeBatch(std::string_view* in) {
    auto b = std::make_shared<Batch>();
    std::string_view prefix;
    uint64_t records = 0;
    bool ok = GetVarint64(in, &b->checkpoint_id) && GetLengthPrefixed(in, &prefix) &&
              GetVarint64(in, &records) && records <= in->size();
    b->id_prefix = prefix;
    for (uint64_t r = 0; ok && r < records; ++r) {
      std::string_view record;
      ok = GetLengthPrefixed(in, &record);
      b->records.emplace_back(record);
    }
    if (ok && routing_) {
      uint64_t count = 0;
      ok = GetVarint64(in, &count) && count == b->records.size();
      for (uint64_t r = 0; ok && r < count; ++r) {
        uint64_t p = 0;
        ok = GetVarint64(in, &p) && p < static_cast<uint64_t>(routing_->options.shards);
        b->partitions.push_back(static_cast<int32_t>(p));
      }
    }
    if (!ok) return Malformed();
    pending_.push_back(std::move(b));
    return Status::OK();
  }

  Status DecodeLegacy(std::string_view in) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n)) return Malformed();
    for (uint64_t i = 0; i < n; ++i) WEIR_RETURN_IF_ERROR(DecodeBatch(&in));
    return in.empty() ? Status::OK() : Malformed();
  }

  Status Malformed() const {
    return Status::Corruption(who_ + ": its state in the checkpoint is malformed");
  }

  static constexpr std::string_view kBatchesState = "pending-batches";

  NatsSinkOptions options_;
  std::optional<Routing> routing_;
  nats::EndMarker marker_;                // a repartition sink's
  std::vector<int32_t> open_partitions_;  // a repartition sink's: the shard of each open record
  std::string who_;
  std::vector<std::string>* state_ = nullptr;  // the split-distributed list of pending batches
  std::string subject_;
  bool exactly_once_ = true;
  std::string id_prefix_;
  bool finished_ = false;
  std::unique_ptr<nats::NatsClient> client_;
  std::unique_ptr<nats::BatchPublisher> publisher_;
  std::vector<std::string> open_;
  // Closed batches in checkpoint order; the first handed_ are with the publisher. A batch leaves
  // when the publisher confirmed it, at the next barrier.
  std::deque<std::shared_ptr<Batch>> pending_;
  size_t handed_ = 0;
};

}  // namespace

Sink<std::string> NatsSink(NatsSinkOptions options) {
  return {[options] { return std::make_unique<NatsSinkOperator>(options); }};
}

Sink<std::string> NatsRepartitionSink(NatsRepartitionOptions options,
                                      std::function<int(const std::string&)> shard_of) {
  NatsSinkOptions sink;
  sink.server = options.server;
  sink.publish_timeout_ms = options.publish_timeout_ms;
  Routing routing{std::move(options), std::move(shard_of)};
  return {[sink, routing] { return std::make_unique<NatsSinkOperator>(sink, routing); }};
}

int64_t NatsRequiredDuplicateWindowMs(const Configuration& config) {
  int64_t ms = config.Get(config::kInterval).count() + config.Get(config::kTimeout).count();
  if (config.Get(config::kRestartStrategy) == RestartStrategy::kFixedDelay) {
    ms += config.Get(config::kRestartDelay).count();
  }
  return ms;
}

}  // namespace weir
