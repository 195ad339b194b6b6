// The decision at the heart of an incremental checkpoint, as a pure function: given the files of
// a native RocksDB checkpoint and the SSTs of the base (the last checkpoint this backend knows
// completed), which files to upload and which to reference.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "snapshot/state_handle.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"  // LocalFile

namespace weir {

struct IncrementalUploadPlan {
  std::vector<LocalFile> new_shared;     // SSTs no confirmed checkpoint uploaded
  std::vector<StateFileHandle> reused;   // SSTs the base already holds in shared/
  std::vector<LocalFile> private_files;  // MANIFEST, CURRENT, OPTIONS, …: uploaded every time
};

// An SST of the base is reused only when its local name and size both match: local names are
// unique within one database's lifetime, and the size check guards against anything else.
IncrementalUploadPlan PlanIncrementalUpload(const std::vector<LocalFile>& files,
                                            const std::map<std::string, StateFileHandle>& base);

bool IsSstFile(const std::string& name);

}  // namespace weir
