#include "snapshot/state_handle.h"

namespace weir {

const char* StateFileRoleName(StateFileRole role) {
  switch (role) {
    case StateFileRole::kFullSnapshot:
      return "full-snapshot";
    case StateFileRole::kShared:
      return "shared";
    case StateFileRole::kPrivate:
      return "private";
  }
  return "unknown";
}

}  // namespace weir
