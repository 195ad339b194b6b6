#include "state/state_backends.h"

#include "state/hashmap/hashmap_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_backend_factory.h"
#include "weir/config.h"

namespace weir {

const std::vector<StateBackendType>& RegisteredStateBackends() {
  static const std::vector<StateBackendType> types = {
      {"rocksdb", &CreateRocksDbKeyedStateBackend},
      {"hashmap", &CreateHashMapKeyedStateBackend},
  };
  return types;
}

Status CheckStateBackendType(std::string_view type) {
  std::string known;
  for (const auto& t : RegisteredStateBackends()) {
    if (type == t.name) return Status::OK();
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  return Status::InvalidArgument("configuration key '" + std::string(config::kBackendType) +
                                 "': unknown state backend type '" + std::string(type) +
                                 "' (known: " + known + ")");
}

std::string StateBackendLibraries() { return "RocksDB " + RocksDbLibraryVersion(); }

Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateKeyedStateBackend(
    const std::string& type, const KeyedStateBackendParameters& parameters,
    const KeyedStateRestore* restore) {
  WEIR_RETURN_IF_ERROR(CheckStateBackendType(type));
  for (const auto& t : RegisteredStateBackends()) {
    if (type == t.name) return t.factory(parameters, restore);
  }
  return Status::Internal("unreachable");
}

}  // namespace weir
