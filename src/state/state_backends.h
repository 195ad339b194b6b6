// The keyed state backends a job can use, by `state.backend.type` (Flink's names): "rocksdb"
// (the default; full or incremental checkpoints) and "hashmap" (in memory; full checkpoints).
// Adding a backend is a factory (see CheckpointableKeyedStateBackend) and one line in
// state_backends.cc; nothing in runtime/, checkpoint/ or snapshot/ changes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/checkpointable_keyed_state_backend.h"

namespace weir {

struct StateBackendType {
  const char* name;  // the value of state.backend.type
  KeyedStateBackendFactory factory;
};

const std::vector<StateBackendType>& RegisteredStateBackends();

// OK when `type` names a registered backend; InvalidArgument naming state.backend.type, the
// value and the known types otherwise.
Status CheckStateBackendType(std::string_view type);

// The libraries the backends store state with and their versions ("RocksDB 7.8.3").
std::string StateBackendLibraries();

// Makes a backend of `type` (empty or restored). InvalidArgument for an unknown type.
Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateKeyedStateBackend(
    const std::string& type, const KeyedStateBackendParameters& parameters,
    const KeyedStateRestore* restore);

}  // namespace weir
