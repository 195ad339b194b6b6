// Full snapshots and canonical savepoints leave expired state out (Flink's cleanupFullSnapshot,
// always on here): the view a full snapshot streams is wrapped so that rows whose values have
// all expired are skipped and list rows lose their expired elements.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "state/state_snapshot_view.h"
#include "weir/state_ttl.h"

namespace weir {

// `view` as of `now` with the expired values of the states in `ttl` (by name) left out; `view`
// itself when none of its states is there. States restored but not requested in this run have
// no known TTL and are kept whole.
std::unique_ptr<StateSnapshotView> WithoutExpiredState(
    std::unique_ptr<StateSnapshotView> view,
    const std::map<std::string, StateTtlConfig, std::less<>>& ttl, int64_t now);

}  // namespace weir
