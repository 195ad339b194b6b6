#include "state/state_backends.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "common/log.h"
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
  KeyedStateBackendParameters inner_parameters = parameters;
  if (plan) inner_parameters.changes_to_replay = plan->changes;
  const auto start = std::chrono::steady_clock::now();
  WEIR_ASSIGN_OR_RETURN(
      auto inner,
      factory(inner_parameters, plan && !plan->inner.handles.empty() ? &plan->inner : nullptr));
  if (plan) {
    const auto replay = std::chrono::steady_clock::now();
    WEIR_ASSIGN_OR_RETURN(
        const ChangelogReplayed replayed,
        ReplayChangelogs(*restore->storage, restore->checkpoint_id, plan->changelogs, *inner));
    const auto end = std::chrono::steady_clock::now();
    WEIR_RETURN_IF_ERROR(inner->FinishReplay());
    const auto ms = [](auto from, auto to) {
      return std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
    };
    const bool materialized = !plan->inner.handles.empty();
    LogInfo("restore of " + parameters.backend_id + " from checkpoint " +
            std::to_string(restore->checkpoint_id) + ": " +
            (materialized ? "materialization in " : "no materialization, opened in ") +
            ms(start, replay) + " ms, then " + std::to_string(replayed.changes) + " changes (" +
            std::to_string(replayed.bytes) + " bytes of log) replayed in " + ms(replay, end) +
            " ms");
  }
  if (!changelog || parameters.checkpoint_storage == nullptr) return inner;
  return std::unique_ptr<CheckpointableKeyedStateBackend>(new ChangelogKeyedStateBackend(
      std::move(inner), parameters.changelog_writer->Register(parameters.backend_id),
      *parameters.checkpoint_storage, ChangelogBackendOptionsFrom(*parameters.config),
      /*restored=*/restore != nullptr));
}

}  // namespace weir
