// The format of a repartition stream (weir/nats.h, NatsRepartitionSink and -Source), shared by
// its two sides: the stream's name, its subjects, and its messages. Every message starts with one
// byte: 'R' and the record's bytes, or 'E' and an end marker "<shard>/<subtask>/<parallelism>"
// that the writing subtask sends to every shard at its end of input.
#pragma once

#include <string>
#include <string_view>

#include "connectors/nats/nats_client.h"
#include "weir/config.h"
#include "weir/status.h"

namespace weir::nats {

// "<cluster.job>-<name>", or "<job id>-<name>" outside a cluster, with '.' in the job's name
// replaced by '_'; checked to be a stream name.
Result<std::string> RepartitionStreamName(const Configuration& config, const std::string& job_id,
                                          const std::string& name);

// The stream with one subject per shard, "<stream>.*".
StreamSpec RepartitionStreamSpec(const std::string& stream, int64_t duplicate_window_ms);

std::string RecordMessage(std::string_view record);

struct EndMarker {
  int shard = 0;
  int subtask = 0;
  int parallelism = 1;
};
std::string EndMarkerMessage(const EndMarker& marker);

// One message read back: a record (`record` is a view into `payload`) or an end marker. A
// message that is neither, or a marker out of range for `shards`, is Corruption naming `what`.
struct RepartitionMessage {
  bool end = false;
  std::string_view record;
  EndMarker marker;
};
Result<RepartitionMessage> ParseRepartitionMessage(std::string_view payload, int shards,
                                                   const std::string& what);

}  // namespace weir::nats
