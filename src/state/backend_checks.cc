#include "state/backend_checks.h"

#include "io/owned_directory.h"

namespace weir {

Status ValidateBackendIdentity(std::string_view backend_id, int max_parallelism,
                               KeyGroupRange* range) {
  WEIR_RETURN_IF_ERROR(ValidateMaxParallelism(max_parallelism));
  WEIR_RETURN_IF_ERROR(ValidateIdentifier("backend id", backend_id));
  if (range->empty()) *range = KeyGroupRange::All(max_parallelism);
  if (range->start < 0 || range->end >= max_parallelism) {
    return Status::InvalidArgument("key-group range " + range->ToString() +
                                   " is outside max parallelism " +
                                   std::to_string(max_parallelism));
  }
  return Status::OK();
}

Result<int> KeyGroupInRange(std::string_view serialized_key, int max_parallelism,
                            const KeyGroupRange& range) {
  const int group = AssignToKeyGroup(serialized_key, max_parallelism);
  if (!range.Contains(group)) {
    return Status::InvalidArgument("key belongs to key group " + std::to_string(group) +
                                   ", outside this backend's range " + range.ToString());
  }
  return group;
}

Status CheckStateRegistration(const StateMetaInfo* registered, const StateMetaInfo& requested) {
  if (requested.name.empty()) return Status::InvalidArgument("a state needs a non-empty name");
  if (registered != nullptr && !(*registered == requested)) {
    return Status::InvalidArgument("state '" + requested.name + "' is registered as " +
                                   DescribeState(*registered) + "; it cannot be used as " +
                                   DescribeState(requested));
  }
  return Status::OK();
}

}  // namespace weir
