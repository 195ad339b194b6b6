#include "snapshot/state_handle.h"

#include "snapshot/checkpoint_options.h"

namespace weir {

const char* StateFileRoleName(StateFileRole role) {
  switch (role) {
    case StateFileRole::kFullSnapshot:
      return "full-snapshot";
    case StateFileRole::kShared:
      return "shared";
    case StateFileRole::kPrivate:
      return "private";
    case StateFileRole::kChangelog:
      return "changelog";
    case StateFileRole::kMaterialization:
      return "materialization";
  }
  return "unknown";
}

const char* BackendSnapshotKindName(BackendSnapshotKind kind) {
  switch (kind) {
    case BackendSnapshotKind::kFull:
      return "full";
    case BackendSnapshotKind::kIncremental:
      return "incremental";
    case BackendSnapshotKind::kChangelog:
      return "changelog";
  }
  return "unknown";
}

uint64_t OperatorStateHandle::Bytes() const {
  uint64_t n = opaque ? opaque->size() : 0;
  for (const auto& list : lists) {
    for (const auto& e : list.entries) n += e.size();
  }
  return n;
}

const char* SavepointFormatName(SavepointFormat format) {
  return format == SavepointFormat::kNative ? "NATIVE" : "CANONICAL";
}

}  // namespace weir
