#include "state/state_backends.h"

#include "state/hashmap/hashmap_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_backend_factory.h"

namespace weir {

const std::vector<StateBackendType>& RegisteredStateBackends() {
  static const std::vector<StateBackendType> types = {
      {"rocksdb", &CreateRocksDbKeyedStateBackend},
      {"hashmap", &CreateHashMapKeyedStateBackend},
  };
  return types;
}

Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateKeyedStateBackend(
    const std::string& type, const KeyedStateBackendParameters& parameters,
    const KeyedStateRestore* restore) {
  std::string known;
  for (const auto& t : RegisteredStateBackends()) {
    if (type == t.name) return t.factory(parameters, restore);
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  return Status::InvalidArgument("unknown state backend type '" + type + "' (known: " + known +
                                 ")");
}

}  // namespace weir
