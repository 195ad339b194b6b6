#include "state/rocksdb/incremental_upload_plan.h"

namespace weir {

bool IsSstFile(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0;
}

IncrementalUploadPlan PlanIncrementalUpload(const std::vector<LocalFile>& files,
                                            const std::map<std::string, StateFileHandle>& base) {
  IncrementalUploadPlan plan;
  for (const auto& f : files) {
    if (!IsSstFile(f.name)) {
      plan.private_files.push_back(f);
      continue;
    }
    auto it = base.find(f.name);
    if (it != base.end() && it->second.size == f.size) {
      plan.reused.push_back(it->second);
    } else {
      plan.new_shared.push_back(f);
    }
  }
  return plan;
}

}  // namespace weir
