// TaskStateSnapshot: what one task (a subtask, or a chain of subtasks on one thread) acknowledges
// for checkpoint N: its backends' state handles, its operators' state, and how long each part
// took. Produced by the runtime, consumed by the coordinator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "snapshot/state_handle.h"

namespace weir {

struct TaskStateSnapshot {
  std::string task_id;
  std::vector<KeyedStateHandle> backends;
  std::vector<OperatorStateHandle> operator_states;
  int64_t sync_duration_us = 0;          // the pause of processing for the synchronous part
  int64_t backend_sync_duration_us = 0;  // of which the keyed state backend's synchronous part
  int64_t alignment_duration_us = 0;     // first barrier received to the last one (aligned)
  int64_t async_duration_us = 0;         // the asynchronous part (uploads)
  // When the checkpoint reached the task: its first barrier, or a source's trigger (wall clock).
  int64_t barrier_unix_ms = 0;
};

}  // namespace weir
