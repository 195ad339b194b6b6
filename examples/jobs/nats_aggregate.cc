// nats-aggregate: keyed-aggregate's computation over a JetStream stream. Reads "key,value" events
// from stream --input (as `weir nats produce` writes them), keeps per key a count and a sum in
// keyed state, and publishes "key,count,sum" for every event to stream --output exactly once.
// With --groups G, a second keyBy: every event also goes to its group (key mod G), which keeps a
// count and a sum of its events and publishes "group,count,sum" to --group-output. Run by `weir
// worker`, that keyBy crosses shards through the repartition stream "<job>-groups".
#include <charconv>

#include "bundled_jobs.h"
#include "job_args.h"
#include "payload.h"
#include "shard_of.h"
#include "weir/nats.h"

namespace weir::examples {
namespace {

struct Event {
  uint64_t key = 0;
  uint64_t value = 0;
  bool well_formed = false;
  NatsMessage source;  // kept only when malformed, for the error
};

bool ParseU64(std::string_view s, uint64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

Event Parse(NatsMessage&& m) {
  Event e;
  const std::string_view p = m.payload;
  const size_t comma = p.find(',');
  e.well_formed = comma != std::string_view::npos && ParseU64(p.substr(0, comma), &e.key) &&
                  ParseU64(p.substr(comma + 1), &e.value);
  if (!e.well_formed) e.source = std::move(m);
  return e;
}

// Run as shard `shard` of `shards` (`weir worker`): the subject <input>.<shard> only, and every
// key must belong to the shard (a producer that partitions otherwise is a clear error).
struct ShardArgs {
  int shard = -1;  // -1: not sharded
  int shards = 0;
};

// Adds one event of `value` to a key's count and sum; the new (count, sum).
Result<std::pair<int64_t, int64_t>> CountEvent(ValueState<int64_t>& count, ValueState<int64_t>& sum,
                                               uint64_t value) {
  WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> c, count.Value());
  WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> s, sum.Value());
  const std::pair<int64_t, int64_t> next{c.value_or(0) + 1,
                                         s.value_or(0) + static_cast<int64_t>(value)};
  WEIR_RETURN_IF_ERROR(count.Update(next.first));
  WEIR_RETURN_IF_ERROR(sum.Update(next.second));
  return next;
}

// The group's count and sum of the events of all its keys (the second keyBy).
class GroupTotals final : public KeyedProcessFunction<uint64_t, Event, std::string> {
 public:
  explicit GroupTotals(uint64_t groups, ShardArgs shard) : groups_(groups), shard_(shard) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    WEIR_ASSIGN_OR_RETURN(sum_, state.GetValueState(ValueStateDescriptor<int64_t>{"sum"}));
    return Status::OK();
  }
  Status ProcessElement(const Event& e, Context&, Collector<std::string>& out) override {
    if (!e.well_formed) {
      return Status::InvalidArgument("nats-aggregate: event '" + e.source.payload.substr(0, 80) +
                                     "' is not 'key,value'");
    }
    const uint64_t group = e.key % groups_;
    if (shard_.shard >= 0 && ShardOfKey(group, shard_.shards) != shard_.shard) {
      return Status::Internal("nats-aggregate: group " + std::to_string(group) + " reached shard " +
                              std::to_string(shard_.shard) +
                              " through the repartition stream, but belongs to shard " +
                              std::to_string(ShardOfKey(group, shard_.shards)));
    }
    WEIR_ASSIGN_OR_RETURN(const auto counted, CountEvent(*count_, *sum_, e.value));
    const auto [c, s] = counted;
    out.Collect(std::to_string(group) + "," + std::to_string(c) + "," + std::to_string(s));
    return Status::OK();
  }

 private:
  uint64_t groups_;
  ShardArgs shard_;
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
};

class Aggregate final : public KeyedProcessFunction<uint64_t, Event, std::string> {
 public:
  Aggregate(std::string input, ShardArgs shard, size_t payload_bytes)
      : input_(std::move(input)), shard_(shard), payload_bytes_(payload_bytes) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    WEIR_ASSIGN_OR_RETURN(sum_, state.GetValueState(ValueStateDescriptor<int64_t>{"sum"}));
    if (payload_bytes_ > 0) {
      WEIR_ASSIGN_OR_RETURN(payload_,
                            state.GetValueState(ValueStateDescriptor<std::string>{"payload"}));
    }
    return Status::OK();
  }
  Status ProcessElement(const Event& e, Context&, Collector<std::string>& out) override {
    if (!e.well_formed) {
      return Status::InvalidArgument("nats-aggregate: message " +
                                     std::to_string(e.source.sequence) + " of stream " + input_ +
                                     " (subject " + e.source.subject + ") is not 'key,value': '" +
                                     e.source.payload.substr(0, 80) + "'");
    }
    if (shard_.shard >= 0 && ShardOfKey(e.key, shard_.shards) != shard_.shard) {
      return Status::InvalidArgument(
          "nats-aggregate: key " + std::to_string(e.key) + " read from subject " + input_ + "." +
          std::to_string(shard_.shard) + " belongs to shard " +
          std::to_string(ShardOfKey(e.key, shard_.shards)) + " of " +
          std::to_string(shard_.shards) + ", not to this shard " + std::to_string(shard_.shard) +
          ": produce with `weir nats produce --shards " + std::to_string(shard_.shards) + "`");
    }
    WEIR_ASSIGN_OR_RETURN(const auto counted, CountEvent(*count_, *sum_, e.value));
    const auto [c, s] = counted;
    if (payload_bytes_ > 0)
      WEIR_RETURN_IF_ERROR(payload_->Update(PayloadOf(e.key, c, payload_bytes_)));
    out.Collect(std::to_string(e.key) + "," + std::to_string(c) + "," + std::to_string(s));
    return Status::OK();
  }

 private:
  std::string input_;
  ShardArgs shard_;
  size_t payload_bytes_;
  ValueState<std::string>* payload_ = nullptr;
  ValueState<int64_t>* count_ = nullptr;
  ValueState<int64_t>* sum_ = nullptr;
};

// The second keyBy. In one process, a keyBy like any other. Run as a shard, the events cross to
// their group's shard through the repartition stream "<job>-groups": written by every shard's
// "to-groups" sink, read by each shard's "from-groups" source (its own subject).
void AddGroupTotals(JobBuilder& job, DataStream<Event>& events, uint64_t groups, ShardArgs shard,
                    const std::string& server, const NatsSinkOptions& out) {
  DataStream<Event> by_group = events;
  if (shard.shard >= 0) {
    NatsRepartitionOptions r;
    r.server = server;
    r.name = "groups";
    r.shard = shard.shard;
    r.shards = shard.shards;
    events.Filter([](const Event& e) { return e.well_formed; }, "well-formed")
        .Map([](const Event& e) { return std::to_string(e.key) + "," + std::to_string(e.value); },
             "format")
        .SinkTo(NatsRepartitionSink(r,
                                    [groups, shards = shard.shards](const std::string& record) {
                                      uint64_t key = 0;
                                      ParseU64(record.substr(0, record.find(',')), &key);
                                      return ShardOfKey(key % groups, shards);
                                    }),
                "to-groups")
        .Uid("to-groups");
    by_group = job.AddSource(NatsRepartitionSource(r), "from-groups")
                   .Uid("from-groups")
                   .Map(
                       [](const std::string& m) {
                         return Parse(NatsMessage{"", 0, m});
                       },
                       "parse-regrouped");
  }
  by_group.KeyBy([groups](const Event& e) { return e.key % groups; })
      .Process<std::string>(
          [groups, shard] { return std::make_unique<GroupTotals>(groups, shard); }, "group-totals")
      .Uid("group-totals")
      .SinkTo(NatsSink(out), "group-sink")
      .Uid("group-sink");
}

}  // namespace

Result<JobGraph> BuildNatsAggregate(const std::vector<std::string>& args) {
  CLI::App app{"per-key count and sum over a JetStream stream", "nats-aggregate"};
  NatsSourceOptions in;
  NatsSinkOptions out;
  app.add_option("--server", in.server, "NATS server URL")->capture_default_str();
  app.add_option("--input", in.stream, "stream of key,value events")->required();
  app.add_option("--output", out.stream, "stream of key,count,sum (created if missing)")
      ->required();
  app.add_flag("--bounded", in.bounded, "end at the input's last message when the job starts");
  app.add_flag(
      "--at-least-once", [&out](int64_t) { out.delivery = NatsDelivery::kAtLeastOnce; },
      "publish at once instead of after each checkpoint");
  size_t payload_bytes = 0;
  app.add_option("--payload-bytes", payload_bytes,
                 "also keep this many bytes of payload per key (state size for benchmarks)")
      ->check(CLI::Range(0, 1 << 20));
  uint64_t groups = 0;
  NatsSinkOptions group_out;
  app.add_option("--groups", groups, "also total the events per group (key mod G): a second keyBy")
      ->check(CLI::PositiveNumber);
  app.add_option("--group-output", group_out.stream,
                 "stream of group,count,sum (with --groups; created if missing)");
  ShardArgs shard;
  app.add_option("--shard", shard.shard, "run as this shard (weir worker passes it)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--shards", shard.shards, "the job's number of shards")
      ->check(CLI::Range(1, kDefaultMaxParallelism));
  WEIR_RETURN_IF_ERROR(ParseJobArgs(app, args));
  out.server = in.server;
  group_out.server = in.server;
  group_out.delivery = out.delivery;
  if ((groups > 0) != !group_out.stream.empty()) {
    return Status::InvalidArgument(
        "nats-aggregate: --groups G and --group-output STREAM go together");
  }
  if ((shard.shard >= 0) != (shard.shards > 0) || shard.shard >= shard.shards) {
    return Status::InvalidArgument(
        "nats-aggregate: --shard N and --shards S go together, with N from 0 to S-1");
  }
  if (shard.shard >= 0) in.subject_filter = in.stream + "." + std::to_string(shard.shard);

  JobBuilder job("nats-aggregate");
  DataStream<Event> events =
      job.AddSource(NatsSource(in), "events")
          .Uid("events")
          .Map([](const NatsMessage& m) { return Parse(NatsMessage(m)); }, "parse");
  events.KeyBy([](const Event& e) { return e.key; })
      .Process<std::string>(
          [input = in.stream, shard, payload_bytes] {
            return std::make_unique<Aggregate>(input, shard, payload_bytes);
          },
          "aggregate")
      .Uid("aggregate")
      .SinkTo(NatsSink(out), "sink")
      .Uid("sink");
  if (groups > 0) AddGroupTotals(job, events, groups, shard, in.server, group_out);
  return job.Build();
}

}  // namespace weir::examples
