// Names of weir's threads, as `top -H`, `perf` and /proc/<pid>/task/<tid>/comm show them: task
// threads "task:<uid>#<subtask>", the pools "weir-io", "weir-async", … (RocksDB names its own
// "rocksdb:low" and "rocksdb:high"). The benchmarks group CPU time by these names.
#pragma once

#include <string>

namespace weir {

// Names the calling thread. Linux keeps 15 bytes: a longer name keeps its first 15 bytes.
void SetCurrentThreadName(const std::string& name);

// "task:<task id>" shortened to 15 bytes by cutting the operator uid, never the "#<subtask>".
std::string TaskThreadName(const std::string& task_id);

}  // namespace weir
