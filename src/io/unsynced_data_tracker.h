// UnsyncedDataTracker: what a machine crash would take away from a local file system, given the
// operations done on it: bytes appended after a file's last sync, files created (or linked) and
// renames made in a directory that was not synced afterwards. DropUnsynced() then makes the files
// look as they would after such a crash (truncates, deletes, reverses renames).
//
// Used by the fault-injecting file system of the tests and to replay a JournalingFileSystem's
// journal after a process was killed (simulated power loss across processes). Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "io/file_system.h"

namespace weir {

class UnsyncedDataTracker {
 public:
  void Created(const std::string& path);
  void Appended(const std::string& path, uint64_t size);
  void Synced(const std::string& path, uint64_t size);
  void Renamed(const std::string& from, const std::string& to);
  void Deleted(const std::string& path);  // a file, or a directory and all below it
  void DirSynced(const std::string& dir);

  // Applies the crash to `fs` (a local file system) and forgets everything.
  Status DropUnsynced(FileSystem& fs);

 private:
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };
  std::map<std::string, FileState> files_;
  std::set<std::string> unsynced_creations_;
  std::vector<std::pair<std::string, std::string>> unsynced_renames_;  // (from, to), in order
};

}  // namespace weir
