#include "checkpoint/checkpoint_verifier.h"

#include <functional>
#include <map>
#include <set>

#include "checkpoint/job_directory.h"
#include "common/checksum.h"
#include "common/progress.h"
#include "snapshot/state_file_verifier.h"

namespace weir {
namespace {

// Every regular file below `relative` (relative to the job directory `root`), depth first.
// Links and special files are reported through `foreign`, never followed.
Status WalkFiles(FileSystem& fs, const std::string& root, const std::string& relative,
                 const std::function<void(const std::string&, const FileStatus&)>& visit,
                 const std::function<void(const std::string&, const char*)>& foreign) {
  WEIR_ASSIGN_OR_RETURN(auto entries, fs.ListDir(JoinPath(root, relative)));
  for (const auto& e : entries) {
    const std::string child = JoinPath(relative, e.name);
    if (e.is_directory && !fs.HasSymbolicLinks()) {  // an object store: no request per prefix
      WEIR_RETURN_IF_ERROR(WalkFiles(fs, root, child, visit, foreign));
      continue;
    }
    auto st = fs.Stat(JoinPath(root, child));
    if (!st.ok()) continue;  // deleted meanwhile
    if (st->is_symlink) {
      foreign(child, "a symbolic link");
    } else if (st->is_other) {
      foreign(child, "not a regular file (a FIFO, socket or device)");
    } else if (st->is_directory) {
      WEIR_RETURN_IF_ERROR(WalkFiles(fs, root, child, visit, foreign));
    } else {
      visit(child, *st);
    }
  }
  return Status::OK();
}

}  // namespace

Result<VerifyReport> VerifyJobDirectory(const CheckpointStorage& job_storage,
                                        bool verify_checksums) {
  // With the log directory the job directory records (dstl.dfs.base-path): its files are checked
  // and its orphans found like those of shared/.
  WEIR_ASSIGN_OR_RETURN(const CheckpointStorage storage, job_storage.WithRecordedChangelogDir());
  VerifyReport report;
  report.job_dir = storage.job_dir();
  report.savepoint = storage.is_savepoint();
  FileSystem& fs = storage.fs();
  std::set<std::string> referenced;
  std::vector<uint64_t> ids = {0};  // a savepoint's one; its id is in its _metadata
  if (!storage.is_savepoint()) {
    WEIR_ASSIGN_OR_RETURN(ids, storage.ListCompletedCheckpointIds());
  }
  // Every readable metadata first: the totals of the progress report.
  std::vector<std::pair<uint64_t, CheckpointMetadata>> readable;
  uint64_t total_files = 0, total_bytes = 0;
  {
    std::set<std::string> distinct;
    for (uint64_t id : ids) {
      const std::string metadata_relative = storage.RelativePrivateFile(id, kMetadataFileName);
      referenced.insert(metadata_relative);
      auto m = ReadCheckpointMetadata(fs, storage.MetadataPath(id));
      if (!m.ok()) {
        report.unreadable_metadata.push_back({id, metadata_relative, m.status().message()});
        continue;
      }
      id = m->checkpoint_id;
      report.checkpoints.push_back(id);
      for (const auto& backend : m->backends) {
        for (const auto& f : backend.files) {
          if (distinct.insert(f.path).second) {
            ++total_files;
            total_bytes += f.size;
          }
        }
      }
      readable.emplace_back(id, std::move(m).value());
    }
  }
  Progress progress("verify " + storage.job_dir(), total_files, verify_checksums ? total_bytes : 0);
  // Every (checkpoint, file) claim is checked: a file two checkpoints list with different sizes
  // or checksums is corrupt for one of them, whatever the file holds.
  std::map<std::string, std::pair<uint64_t, StateFileHandle>> first_claim;
  for (const auto& [id, m] : readable) {
    for (const auto& backend : m.backends) {
      for (const auto& f : backend.files) {
        auto [claim, first] = first_claim.try_emplace(f.path, id, f);
        if (!first) {
          const StateFileHandle& earlier = claim->second.second;
          if (earlier.size != f.size || earlier.checksum != f.checksum) {
            report.corrupt.push_back(
                {id, f.path,
                 "checkpoint " + std::to_string(id) + ": file " + f.path + " is listed with size " +
                     std::to_string(f.size) + " and checksum " + FormatChecksum(f.checksum) +
                     ", but checkpoint " + std::to_string(claim->second.first) + " lists it with " +
                     std::to_string(earlier.size) + " and " + FormatChecksum(earlier.checksum)});
          }
          continue;  // the same claim: the file was checked against it once
        }
        referenced.insert(f.path);
        report.referenced_bytes += f.size;
        Status s;
        if (verify_checksums) {
          s = VerifyStateFile(storage, id, f);
        } else {
          auto st = fs.Stat(*storage.ResolveRelative(f.path));
          if (!st.ok())
            s = st.status();
          else if (st->size != f.size)
            s = Status::Corruption("size " + std::to_string(st->size) + ", expected " +
                                   std::to_string(f.size));
        }
        progress.Add(1, verify_checksums ? f.size : 0);
        if (s.IsNotFound())
          report.missing.push_back({id, f.path, s.message()});
        else if (!s.ok())
          report.corrupt.push_back({id, f.path, s.message()});
      }
    }
  }
  progress.Finish();

  const auto foreign = [&](const std::string& path, const char* what) {
    report.foreign.push_back({0, path, path + " is " + what + ": weir never writes one here"});
  };
  WEIR_RETURN_IF_ERROR(WalkFiles(
      fs, storage.job_dir(), "",
      [&](const std::string& path, const FileStatus& st) {
        report.total_bytes += st.size;
        const std::string top = path.substr(0, path.find('/'));
        const bool owned_by_checkpoints =
            storage.is_savepoint()
                ? true
                : path.find('/') != std::string::npos &&
                      (top == kSharedDirName || CheckpointStorage::ParseCheckpointDirName(top));
        if (owned_by_checkpoints && !referenced.count(path)) {
          report.orphans.push_back({path, st.size, st.modified_unix_ms});
        }
      },
      foreign));
  if (!storage.changelog_dir().empty()) {
    // Only log files lie there (and its marker): any other is an orphan too.
    WEIR_RETURN_IF_ERROR(WalkFiles(
        fs, storage.changelog_dir(), "",
        [&](const std::string& path, const FileStatus& st) {
          report.total_bytes += st.size;
          if (path == kChangelogMarkerFileName) return;
          const std::string relative = JoinPath(kChangelogDirPrefix, path);
          if (!referenced.count(relative)) {
            report.orphans.push_back({relative, st.size, st.modified_unix_ms});
          }
        },
        [&](const std::string& path, const char* what) {
          foreign(JoinPath(kChangelogDirPrefix, path), what);
        }));
  }
  return report;
}

Result<GcResult> CollectOrphans(const CheckpointStorage& job_storage, const VerifyReport& report,
                                int64_t now_unix_ms, int64_t grace_ms, bool dry_run) {
  WEIR_ASSIGN_OR_RETURN(const CheckpointStorage storage, job_storage.WithRecordedChangelogDir());
  WEIR_ASSIGN_OR_RETURN(bool recognized, RecognizeJobDirectory(storage));
  if (!recognized) {
    return Status::FailedPrecondition("refusing to collect garbage in " + storage.job_dir() +
                                      ": not a weir job directory (no marker, no readable "
                                      "checkpoint)");
  }
  if (!report.unreadable_metadata.empty()) {
    const auto& bad = report.unreadable_metadata.front();
    return Status::FailedPrecondition("refusing to collect garbage in " + storage.job_dir() +
                                      ": the metadata of checkpoint " +
                                      std::to_string(bad.checkpoint_id) + " is unreadable (" +
                                      bad.message + "), so its files cannot be told from orphans");
  }
  const OwnedDirectory owned = storage.owned();
  GcResult result;
  std::set<std::string> touched_dirs;
  uint64_t orphan_bytes = 0;
  for (const auto& orphan : report.orphans) orphan_bytes += orphan.size;
  Progress progress("gc " + storage.job_dir(), dry_run ? 0 : report.orphans.size(),
                    dry_run ? 0 : orphan_bytes);
  for (const auto& orphan : report.orphans) {
    if (orphan.modified_unix_ms > now_unix_ms - grace_ms) {
      result.kept_in_grace.push_back(orphan);
      continue;
    }
    result.deleted.push_back(orphan);
    if (dry_run) continue;
    progress.Add(1, orphan.size);
    const Status s = storage.DeleteStateFile(orphan.path);
    if (!s.ok() && !s.IsNotFound()) ++result.failures;
    touched_dirs.insert(ParentPath(orphan.path));
  }
  // Remove directories of checkpoints that never completed once nothing is left in them.
  for (const auto& dir : touched_dirs) {
    for (std::string d = dir; !d.empty(); d = ParentPath(d)) {
      const std::string top = d.substr(0, d.find('/'));
      if (!CheckpointStorage::ParseCheckpointDirName(top)) break;
      const std::string abs = *storage.ResolveRelative(d);
      auto listing = storage.fs().ListDir(abs);
      if (!listing.ok() || !listing->empty()) break;
      (void)owned.DeleteIfEmpty(d);
    }
  }
  if (!dry_run) (void)storage.fs().SyncDir(storage.SharedDir());
  return result;
}

}  // namespace weir
