#include "state/state_backends.h"

#include <algorithm>
#include <optional>

#include "state/changelog/changelog_keyed_state_backend.h"
#include "state/changelog/changelog_options.h"
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
  KeyedStateBackendFactory factory = nullptr;
  for (const auto& t : RegisteredStateBackends()) {
    if (type == t.name) factory = t.factory;
  }
  const bool changelog = parameters.changelog_writer != nullptr;
  const bool restore_changelog =
      restore != nullptr &&
      std::any_of(restore->handles.begin(), restore->handles.end(),
                  [](const auto& h) { return h.kind == BackendSnapshotKind::kChangelog; });
  if (!changelog && !restore_changelog) return factory(parameters, restore);
  // Changelog handles restore as their materializations plus a replay of their logs, whether
  // or not the restored job logs changes itself.
  std::optional<ChangelogRestorePlan> plan;
  if (restore) {
    WEIR_ASSIGN_OR_RETURN(plan, PlanChangelogRestore(*restore));
  }
  WEIR_ASSIGN_OR_RETURN(
      auto inner,
      factory(parameters, plan && !plan->inner.handles.empty() ? &plan->inner : nullptr));
  if (plan)
    WEIR_RETURN_IF_ERROR(
        ReplayChangelogs(*restore->storage, restore->checkpoint_id, plan->changelogs, *inner));
  if (!changelog || parameters.checkpoint_storage == nullptr) return inner;
  return std::unique_ptr<CheckpointableKeyedStateBackend>(new ChangelogKeyedStateBackend(
      std::move(inner), parameters.changelog_writer->Register(parameters.backend_id),
      *parameters.checkpoint_storage, ChangelogBackendOptionsFrom(*parameters.config),
      /*restored=*/restore != nullptr));
}

}  // namespace weir
