// StreamElement: what travels through a channel between two subtasks, in order: records (with
// their event-time timestamp, if any), watermarks, the idle marker (the channel carries nothing
// for a while: leave it out of the watermark until it does), checkpoint barriers and the
// end-of-input marker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "snapshot/checkpoint_options.h"
#include "weir/stream_operator.h"

namespace weir {

struct StreamElement {
  enum class Kind : uint8_t { kRecord, kWatermark, kIdle, kBarrier, kEndOfInput };
  Kind kind = Kind::kRecord;
  Record value;
  std::string key;                   // serialized key, on channels into a keyed operator
  int64_t timestamp = kNoTimestamp;  // kRecord: its timestamp; kWatermark: the watermark
  uint64_t checkpoint_id = 0;        // kBarrier

  // A barrier carries what its snapshot is (Flink's CheckpointOptions) in the slot a record's
  // value takes, so records pay nothing for it.
  static StreamElement Barrier(uint64_t id, std::shared_ptr<const CheckpointOptions> options) {
    StreamElement e;
    e.kind = Kind::kBarrier;
    e.checkpoint_id = id;
    e.value = std::move(options);
    return e;
  }
  // A barrier's options; a checkpoint's when it carries none.
  std::shared_ptr<const CheckpointOptions> barrier_options() const {
    const auto* options = std::any_cast<std::shared_ptr<const CheckpointOptions>>(&value);
    if (options != nullptr && *options) return *options;
    static const auto kCheckpoint = std::make_shared<const CheckpointOptions>();
    return kCheckpoint;
  }
  static StreamElement Watermark(int64_t watermark) {
    StreamElement e;
    e.kind = Kind::kWatermark;
    e.timestamp = watermark;
    return e;
  }
  static StreamElement Idle() {
    StreamElement e;
    e.kind = Kind::kIdle;
    return e;
  }
  static StreamElement EndOfInput() {
    StreamElement e;
    e.kind = Kind::kEndOfInput;
    return e;
  }
};

}  // namespace weir
