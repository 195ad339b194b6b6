// Standby copies (Kafka Streams' standby replicas, on weir's checkpoints): a process that may take
// a shard over keeps the files of the shard's latest completed checkpoint in the layout of the
// local recovery copies (local_recovery_copy.h), so that its restore after a takeover links them
// instead of downloading the whole state. Each new checkpoint costs the standby only the files it
// added: the others are linked from its previous copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "snapshot/state_handle.h"
#include "storage/checkpoint_storage.h"

namespace weir {

struct StandbyCopyStats {
  uint64_t files_fetched = 0;
  uint64_t bytes_fetched = 0;
  uint64_t files_linked = 0;  // from the previous copy
};

// Makes <backend_dir>/chk-<N> hold `handle`'s files (checkpoint N's snapshot of one backend): those
// an earlier copy holds with the recorded size and checksum are linked, the others fetched and
// checked against their recorded checksum (Corruption naming the file otherwise). The copy is
// assembled aside and published whole; then the copies of earlier checkpoints go. What a failed
// attempt fetched stays aside for the next one (a checkpoint subsumed during its copy loses
// files: NotFound; the next checkpoint shares most of them). A handle that is
// not an incremental snapshot (a full one, a changelog backend's) has nothing a restore could
// link: nothing is kept. `cancelled` stops it between chunks (Aborted; nothing published).
Status KeepStandbyCopy(const CheckpointStorage& storage, uint64_t checkpoint_id,
                       const KeyedStateHandle& handle, const std::string& backend_dir,
                       const std::atomic<bool>& cancelled, StandbyCopyStats* stats);

}  // namespace weir
