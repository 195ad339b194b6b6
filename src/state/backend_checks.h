// Checks every keyed state backend makes the same way, with the same words: the identity it is
// opened with (backend id, max parallelism, key-group range), the key group of the current key,
// and a state registered again under the same name.
#pragma once

#include <string>
#include <string_view>

#include "weir/key_group.h"
#include "weir/state.h"
#include "weir/status.h"

namespace weir {

// The backend id is a safe identifier (it names files in checkpoint storage), max parallelism is
// within bounds, and `range` fits it; an empty range becomes every key group.
Status ValidateBackendIdentity(std::string_view backend_id, int max_parallelism,
                               KeyGroupRange* range);

// The key group of `serialized_key`, or InvalidArgument when it lies outside `range`.
Result<int> KeyGroupInRange(std::string_view serialized_key, int max_parallelism,
                            const KeyGroupRange& range);

// A state may be asked for again only as what it was registered as. `registered` is nullptr for
// a name not registered yet.
Status CheckStateRegistration(const StateMetaInfo* registered, const StateMetaInfo& requested);

}  // namespace weir
