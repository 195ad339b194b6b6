// The byte that names a state's kind in checkpoint metadata and key-group streams: the kind
// (1..5) in the low bits, 0x80 when the state's values carry TTL timestamps. Files written before
// TTL existed decode unchanged; a reader that predates TTL refuses a TTL state as malformed
// rather than misreading its values.
#pragma once

#include <cstdint>

#include "weir/state.h"

namespace weir {

inline constexpr uint8_t kStateKindTtlBit = 0x80;

inline uint8_t EncodeStateKindByte(const StateMetaInfo& s) {
  return static_cast<uint8_t>(static_cast<uint8_t>(s.kind) | (s.ttl ? kStateKindTtlBit : 0));
}

// False when `byte` names no kind.
inline bool DecodeStateKindByte(uint8_t byte, StateMetaInfo* s) {
  const uint8_t kind = byte & static_cast<uint8_t>(~kStateKindTtlBit);
  if (kind < 1 || kind > 5) return false;
  s->kind = static_cast<StateKind>(kind);
  s->ttl = (byte & kStateKindTtlBit) != 0;
  return true;
}

}  // namespace weir
