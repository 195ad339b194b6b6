// NATS JetStream connectors: a replayable source that reads a stream by subject, and a sink that
// publishes to a stream exactly once (see docs/nats.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "weir/config.h"
#include "weir/job.h"

namespace weir {

// One message of a JetStream stream.
struct NatsMessage {
  std::string subject;
  uint64_t sequence = 0;  // the stream sequence
  std::string payload;
};

struct NatsSourceOptions {
  std::string server = "nats://127.0.0.1:4222";
  std::string stream;
  // Only subjects this filter covers (empty: all of the stream's subjects).
  std::string subject_filter;
  // End at the last message each subject held when the job first started (kept in the
  // checkpoint, so a restored job ends at the same place); otherwise read on forever.
  bool bounded = false;
};

// Reads one stream. Its splits are the stream's configured subjects (those the filter covers, or
// the filter itself when it covers none of them exactly); the i-th split goes to subtask
// i mod parallelism and is read in order through an ordered consumer. A split's position is the
// stream sequence of the last message emitted, kept in the checkpoint; a restored job resumes
// each split right after it. A lost connection is re-established with backoff and the readers
// resume from their positions.
Source<NatsMessage> NatsSource(NatsSourceOptions options);

enum class NatsDelivery { kExactlyOnce, kAtLeastOnce };

struct NatsSinkOptions {
  std::string server = "nats://127.0.0.1:4222";
  std::string stream;
  std::string subject;        // empty: the stream's name
  bool create_stream = true;  // with the subject and a duplicate window that fits the job
  NatsDelivery delivery = NatsDelivery::kExactlyOnce;
  int64_t publish_timeout_ms = 60000;  // retries of one batch before the sink fails
};

// Publishes each record (a line) as one message. Exactly-once: the records between two
// checkpoint barriers are kept in the checkpoint and published only once it completed, each
// with a deterministic Nats-Msg-Id, so that a batch published again after a failure is dropped
// by the stream's duplicate window; the sink checks at start that the window is long enough
// (NatsRequiredDuplicateWindowMs). At-least-once: publishes at once and waits for the
// acknowledgements at each barrier.
Sink<std::string> NatsSink(NatsSinkOptions options);

// A keyBy between the shards of a job run by `weir worker` (docs/cluster.md): a JetStream stream
// "<cluster.job>-<name>" (under `weir run`, "<job id>-<name>") with one subject per shard,
// "<stream>.<shard>". Every shard writes each record to the subject of the shard its new key
// belongs to, and reads its own subject. The stream is created by whichever side opens first.
struct NatsRepartitionOptions {
  std::string server = "nats://127.0.0.1:4222";
  std::string name;  // letters, digits, '_' and '-'; unique among the job's repartitions
  int shard = 0;     // the shard this process runs
  int shards = 1;    // the job's number of shards
  int64_t publish_timeout_ms = 60000;
};

// Writes each record to the subject of shard `shard_of(record)` (in [0, shards)), exactly once as
// the NATS sink publishes (after the writing shard's checkpoint completed, under deterministic
// message ids); at its end of input, an end marker to every shard's subject.
Sink<std::string> NatsRepartitionSink(NatsRepartitionOptions options,
                                      std::function<int(const std::string&)> shard_of);

// Reads this shard's subject of the repartition stream from the position in its checkpoint; it
// ends once every writer of every shard has sent its end marker (never, while any input of the
// writing side is unbounded). One subtask reads the subject; the position and the end markers
// seen are kept in the checkpoint.
Source<std::string> NatsRepartitionSource(NatsRepartitionOptions options);

// The duplicate window an exactly-once NATS sink needs under `config`: a batch can be published
// again until the first checkpoint after its publication completes and a restart restored it,
// so the window must cover checkpoint interval + checkpoint timeout + restart delay.
int64_t NatsRequiredDuplicateWindowMs(const Configuration& config);

}  // namespace weir
