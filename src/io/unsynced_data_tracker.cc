#include "io/unsynced_data_tracker.h"

#include <unistd.h>

#include <algorithm>

namespace weir {

void UnsyncedDataTracker::Created(const std::string& path) {
  files_[path] = FileState{};
  unsynced_creations_.insert(path);
}

void UnsyncedDataTracker::Appended(const std::string& path, uint64_t size) {
  files_[path].size = size;
}

void UnsyncedDataTracker::Synced(const std::string& path, uint64_t size) {
  files_[path].synced = size;
  files_[path].size = std::max(files_[path].size, size);
}

void UnsyncedDataTracker::Renamed(const std::string& from, const std::string& to) {
  if (auto it = files_.find(from); it != files_.end()) {
    files_[to] = it->second;
    files_.erase(it);
  }
  if (unsynced_creations_.erase(from) > 0) {
    unsynced_creations_.insert(to);  // never durable under either name
  } else {
    unsynced_renames_.emplace_back(from, to);
  }
}

void UnsyncedDataTracker::Deleted(const std::string& path) {
  const std::string prefix = path + "/";
  const auto below = [&](const std::string& p) { return p == path || p.rfind(prefix, 0) == 0; };
  std::erase_if(files_, [&](const auto& f) { return below(f.first); });
  std::erase_if(unsynced_creations_, below);
}

void UnsyncedDataTracker::DirSynced(const std::string& dir) {
  std::erase_if(unsynced_creations_, [&](const auto& f) { return ParentPath(f) == dir; });
  std::erase_if(unsynced_renames_, [&](const auto& r) { return ParentPath(r.second) == dir; });
}

Status UnsyncedDataTracker::DropUnsynced(FileSystem& fs) {
  // Renames not made durable come undone, newest first. One whose source or target is gone
  // already (a journal entry written just before the process died) is skipped.
  for (auto it = unsynced_renames_.rbegin(); it != unsynced_renames_.rend(); ++it) {
    const Status s = fs.Rename(it->second, it->first);
    if (!s.ok() && !s.IsNotFound()) return s;
    if (auto f = files_.find(it->second); s.ok() && f != files_.end()) {
      files_[it->first] = f->second;
      files_.erase(f);
    }
  }
  for (const auto& path : unsynced_creations_) {
    const Status s = fs.DeleteFile(path);
    if (!s.ok() && !s.IsNotFound()) return s;
    files_.erase(path);
  }
  for (const auto& [path, state] : files_) {
    auto st = fs.Stat(path);
    if (!st.ok() || st->size <= state.synced) continue;
    if (::truncate(path.c_str(), static_cast<off_t>(state.synced)) != 0) {
      return Status::IOError("cannot truncate " + path + " to its synced size");
    }
  }
  *this = UnsyncedDataTracker();
  return Status::OK();
}

}  // namespace weir
