// StreamElement: what travels through a channel between two subtasks, in order: records,
// checkpoint barriers and the end-of-input marker.
#pragma once

#include <cstdint>
#include <string>

#include "weir/stream_operator.h"

namespace weir {

struct StreamElement {
  enum class Kind : uint8_t { kRecord, kBarrier, kEndOfInput };
  Kind kind = Kind::kRecord;
  Record value;
  std::string key;             // serialized key, on channels into a keyed operator
  uint64_t checkpoint_id = 0;  // kBarrier

  static StreamElement Barrier(uint64_t id) {
    StreamElement e;
    e.kind = Kind::kBarrier;
    e.checkpoint_id = id;
    return e;
  }
  static StreamElement EndOfInput() {
    StreamElement e;
    e.kind = Kind::kEndOfInput;
    return e;
  }
};

}  // namespace weir
