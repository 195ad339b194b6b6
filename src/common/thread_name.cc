#include "common/thread_name.h"

#include <pthread.h>

namespace weir {

namespace {
constexpr size_t kMaxThreadName = 15;  // pthread_setname_np refuses longer names on Linux
}

void SetCurrentThreadName(const std::string& name) {
  // Best effort: a thread without a name works the same.
  (void)pthread_setname_np(pthread_self(), name.substr(0, kMaxThreadName).c_str());
}

std::string TaskThreadName(const std::string& task_id) {
  const std::string name = "task:" + task_id;
  if (name.size() <= kMaxThreadName) return name;
  const size_t hash = task_id.rfind('#');
  const std::string subtask = hash == std::string::npos ? "" : task_id.substr(hash);
  if (subtask.size() >= kMaxThreadName - 5) return name.substr(0, kMaxThreadName);
  return name.substr(0, kMaxThreadName - subtask.size()) + subtask;
}

}  // namespace weir
