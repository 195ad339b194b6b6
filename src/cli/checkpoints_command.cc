#include "cli/checkpoints_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_metadata.h"
#include "checkpoint/checkpoint_verifier.h"
#include "checkpoint/job_directory.h"
#include "cli/fail.h"
#include "common/checksum.h"
#include "io/file_system.h"
#include "io/file_systems.h"
#include "runtime/execution_plan.h"

namespace weir::cli {
namespace {

using nlohmann::json;

std::string Iso8601(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(unix_ms % 1000));
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

struct ListedCheckpoint {
  std::string metadata_path;
  CheckpointMetadata metadata;
};

// The job (and, when asked, savepoint) directories `dir` holds or is, each as its storage; what
// is neither is named on stderr and left alone.
Result<std::vector<CheckpointStorage>> RecognizedDirs(FileSystem& fs, const std::string& dir,
                                                      bool savepoints) {
  WEIR_ASSIGN_OR_RETURN(JobDirectories found, FindJobDirectories(fs, dir));
  for (const auto& ignored : found.ignored) std::cerr << "weir: " << EscapeForLog(ignored) << "\n";
  const auto shared_fs = std::shared_ptr<FileSystem>(&fs, [](FileSystem*) {});
  std::vector<CheckpointStorage> out;
  for (const auto& job : found.jobs) out.emplace_back(shared_fs, job);
  for (const auto& savepoint : found.savepoints) {
    if (savepoints) {
      out.push_back(CheckpointStorage::ForSavepoint(shared_fs, savepoint));
    } else {
      std::cerr << "weir: " << EscapeForLog(savepoint)
                << ": a savepoint, left alone (savepoints are the user's)\n";
    }
  }
  return out;
}

Result<std::vector<ListedCheckpoint>> CollectCheckpoints(FileSystem& fs, const std::string& dir) {
  WEIR_ASSIGN_OR_RETURN(JobDirectories found, FindJobDirectories(fs, dir));
  for (const auto& ignored : found.ignored) std::cerr << "weir: " << EscapeForLog(ignored) << "\n";
  std::vector<ListedCheckpoint> out;
  for (const auto& savepoint : found.savepoints) {
    const std::string path = JoinPath(savepoint, kMetadataFileName);
    WEIR_ASSIGN_OR_RETURN(auto metadata, ReadCheckpointMetadata(fs, path));
    out.push_back({path, std::move(metadata)});
  }
  for (const auto& job_dir : found.jobs) {
    const CheckpointStorage storage(std::shared_ptr<FileSystem>(&fs, [](FileSystem*) {}), job_dir);
    WEIR_ASSIGN_OR_RETURN(auto ids, storage.ListCompletedCheckpointIds());
    for (uint64_t id : ids) {
      const std::string path = storage.MetadataPath(id);
      WEIR_ASSIGN_OR_RETURN(auto metadata, ReadCheckpointMetadata(fs, path));
      out.push_back({path, std::move(metadata)});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.metadata.checkpoint_id < b.metadata.checkpoint_id;
  });
  return out;
}

// --config FILE and -D key=value, as `weir run` takes them: they reach S3 storage.
struct StorageOptions {
  std::string config_file;
  std::vector<std::string> assignments;
};

Result<std::shared_ptr<FileSystem>> OpenStorage(const std::string& path, const StorageOptions& o) {
  Configuration config;
  if (!o.config_file.empty()) WEIR_RETURN_IF_ERROR(config.LoadYamlFile(o.config_file));
  for (const auto& a : o.assignments) WEIR_RETURN_IF_ERROR(config.SetFromAssignment(a));
  return FileSystemForPath(path, config);
}

void AddStorageOptions(CLI::App* command, const std::shared_ptr<StorageOptions>& o) {
  command->add_option("--config", o->config_file, "YAML configuration file (s3.* keys)");
  command->add_option("-D", o->assignments, "configuration key=value (repeatable)");
}

// Opens the storage of `path_in` and declares `path`, its normalized form.
#define WEIR_OPEN_STORAGE_OR_FAIL(fs, path, path_in, options)               \
  auto path##_normalized = NormalizeStoragePath(path_in);                   \
  if (!path##_normalized.ok()) return Fail("", path##_normalized.status()); \
  const std::string path = std::move(path##_normalized).value();            \
  auto fs##_opened = OpenStorage(path, options);                            \
  if (!fs##_opened.ok()) return Fail("", fs##_opened.status());             \
  std::shared_ptr<FileSystem> fs = std::move(fs##_opened).value()

int RunList(const std::string& dir_in, bool as_json, const StorageOptions& storage) {
  WEIR_OPEN_STORAGE_OR_FAIL(fs, dir, dir_in, storage);
  auto listed = CollectCheckpoints(*fs, dir);
  if (!listed.ok()) return Fail("", listed.status());
  if (as_json) {
    json rows = json::array();
    for (const auto& c : *listed) {
      const auto& m = c.metadata;
      rows.push_back({{"id", m.checkpoint_id},
                      {"job_id", m.job_id},
                      {"kind", CheckpointKindName(m.kind)},
                      {"savepoint", IsSavepoint(m.kind)},
                      {"path", c.metadata_path},
                      {"triggered_at", Iso8601(m.trigger_unix_ms)},
                      {"completed_at", Iso8601(m.completed_unix_ms)},
                      {"full_bytes", m.FullBytes()},
                      {"checkpointed_bytes", m.CheckpointedBytes()},
                      {"files", m.FileCount()}});
    }
    std::cout << rows.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:>6}  {:<19}  {:<24}  {:>10}  {:>12}  {:>5}  {}\n", "ID", "KIND",
                           "COMPLETED", "FULL", "CHECKPOINTED", "FILES", "PATH");
  for (const auto& c : *listed) {
    const auto& m = c.metadata;
    std::cout << fmt::format("{:>6}  {:<19}  {:<24}  {:>10}  {:>12}  {:>5}  {}\n", m.checkpoint_id,
                             CheckpointKindName(m.kind), Iso8601(m.completed_unix_ms),
                             HumanBytes(m.FullBytes()), HumanBytes(m.CheckpointedBytes()),
                             m.FileCount(), c.metadata_path);
  }
  return 0;
}

json StateJson(const StateMetaInfo& s) {
  json j = {{"name", s.name}, {"kind", StateKindName(s.kind)}, {"serializer", s.value_serializer}};
  if (s.kind == StateKind::kMap) j["key_serializer"] = s.user_key_serializer;
  j["ttl"] = s.ttl;
  return j;
}

json FileJson(const StateFileHandle& f, uint64_t checkpoint_id) {
  return {{"path", f.path},
          {"size", f.size},
          {"checksum", FormatChecksum(f.checksum)},
          {"role", StateFileRoleName(f.role)},
          {"local_name", f.local_name},
          {"written_by_checkpoint", f.written_by_checkpoint},
          {"uploaded", f.written_by_checkpoint == checkpoint_id}};
}

const char* ModeName(OperatorStateMode mode) {
  return mode == OperatorStateMode::kUnion ? "union" : "split";
}

// The key-group ranges of an operator's backends, in order ("[0, 63] [64, 127]").
std::vector<KeyGroupRange> KeyGroupRangesOf(const CheckpointMetadata& m, const std::string& uid) {
  std::vector<KeyGroupRange> ranges;
  for (const auto& b : m.backends) {
    if (ExecutionPlan::OperatorOfBackend(b.backend_id) == uid) ranges.push_back(b.key_group_range);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  return ranges;
}

// The job's operators: parallelism, key-group ranges (keyed ones) and what each subtask stored
// as operator state.
json OperatorsJson(const CheckpointMetadata& m) {
  json out = json::array();
  for (const auto& o : m.operators) {
    json subtasks = json::array();
    for (const auto& s : m.operator_states) {
      if (s.operator_uid != o.uid) continue;
      json lists = json::array();
      for (const auto& l : s.lists) {
        uint64_t bytes = 0;
        for (const auto& e : l.entries) bytes += e.size();
        lists.push_back({{"name", l.name},
                         {"mode", ModeName(l.mode)},
                         {"entries", l.entries.size()},
                         {"bytes", bytes}});
      }
      json subtask = {{"subtask", s.subtask}, {"state_bytes", s.Bytes()}, {"lists", lists}};
      if (s.opaque) subtask["opaque_bytes"] = s.opaque->size();
      subtasks.push_back(std::move(subtask));
    }
    json ranges = json::array();
    for (const auto& r : KeyGroupRangesOf(m, o.uid)) ranges.push_back({r.start, r.end});
    out.push_back({{"uid", o.uid},
                   {"parallelism", o.parallelism},
                   {"key_group_ranges", ranges},
                   {"operator_state", subtasks}});
  }
  return out;
}

// "2 subtask(s), 120 B: split list 'splits' 128 entries"
std::string OperatorStateSummary(const CheckpointMetadata& m, const std::string& uid) {
  size_t subtasks = 0;
  uint64_t bytes = 0;
  std::vector<std::pair<std::string, std::pair<OperatorStateMode, size_t>>> lists;
  bool opaque = false;
  for (const auto& st : m.operator_states) {
    if (st.operator_uid != uid) continue;
    ++subtasks;
    bytes += st.Bytes();
    opaque = opaque || st.opaque.has_value();
    for (const auto& l : st.lists) {
      auto it = std::find_if(lists.begin(), lists.end(),
                             [&](const auto& x) { return x.first == l.name; });
      if (it == lists.end()) {
        lists.push_back({l.name, {l.mode, l.entries.size()}});
      } else {
        it->second.second += l.entries.size();
      }
    }
  }
  if (subtasks == 0) return "";
  std::string out =
      fmt::format("\n                operator state: {} subtask(s), {} B", subtasks, bytes);
  for (const auto& [name, info] : lists) {
    out += fmt::format("; {} list '{}' {} entries", ModeName(info.first), name, info.second);
  }
  if (opaque) out += "; opaque bytes (restores only at this parallelism)";
  return out;
}

int RunInspect(const std::string& path_in, bool as_json, const StorageOptions& storage) {
  WEIR_OPEN_STORAGE_OR_FAIL(fs, path, path_in, storage);
  auto pointer = CheckpointStorage::ResolvePointer(*fs, path);
  if (!pointer.ok()) return Fail("", pointer.status());
  auto read = ReadCheckpointMetadata(*fs, pointer->metadata_path);
  if (!read.ok()) return Fail("", read.status());
  const CheckpointMetadata& m = *read;
  if (pointer->savepoint != IsSavepoint(m.kind)) {
    return Fail(
        "", Status::Corruption(pointer->metadata_path + ": holds " + CheckpointKindName(m.kind) +
                               " " + std::to_string(m.checkpoint_id) + " in a " +
                               (pointer->savepoint ? "savepoint" : "checkpoint") + " directory"));
  }
  if (!pointer->savepoint && m.checkpoint_id != pointer->checkpoint_id) {
    return Fail("",
                Status::Corruption(pointer->metadata_path + ": holds checkpoint " +
                                   std::to_string(m.checkpoint_id) + " but lies in " +
                                   CheckpointStorage::CheckpointDirName(pointer->checkpoint_id)));
  }
  if (as_json) {
    json backends = json::array();
    for (const auto& b : m.backends) {
      json states = json::array(), files = json::array();
      for (const auto& s : b.states) states.push_back(StateJson(s));
      for (const auto& f : b.files) files.push_back(FileJson(f, m.checkpoint_id));
      backends.push_back({{"backend_id", b.backend_id},
                          {"kind", BackendSnapshotKindName(b.kind)},
                          {"max_parallelism", b.max_parallelism},
                          {"key_groups", {b.key_group_range.start, b.key_group_range.end}},
                          {"full_bytes", b.full_bytes},
                          {"checkpointed_bytes", b.checkpointed_bytes},
                          {"states", states},
                          {"files", files}});
      if (b.kind == BackendSnapshotKind::kChangelog) {
        json segments = json::array();
        for (const auto& seg : b.changelog) {
          segments.push_back({{"path", seg.path},
                              {"offset", seg.offset},
                              {"length", seg.length},
                              {"first_change", seg.first_sequence},
                              {"last_change", seg.last_sequence}});
        }
        backends.back()["changelog"] = {{"materialized_up_to", b.materialized_sequence},
                                        {"log_up_to", b.changelog_sequence},
                                        {"segments", segments}};
      }
    }
    json out = {{"id", m.checkpoint_id},
                {"job_id", m.job_id},
                {"kind", CheckpointKindName(m.kind)},
                {"savepoint", IsSavepoint(m.kind)},
                {"path", pointer->metadata_path},
                {"job_dir", pointer->job_dir},
                {"triggered_at", Iso8601(m.trigger_unix_ms)},
                {"completed_at", Iso8601(m.completed_unix_ms)},
                {"full_bytes", m.FullBytes()},
                {"checkpointed_bytes", m.CheckpointedBytes()},
                {"files", m.FileCount()},
                {"backends", backends},
                {"operators", OperatorsJson(m)}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{} {} ({}) of job {}\n",
                           IsSavepoint(m.kind) ? "savepoint" : "checkpoint", m.checkpoint_id,
                           CheckpointKindName(m.kind), m.job_id);
  if (IsSavepoint(m.kind)) {
    std::cout << "  self-contained: every file is in its directory; weir never deletes it\n";
  }
  std::cout << fmt::format("  metadata:     {}\n", pointer->metadata_path);
  std::cout << fmt::format("  triggered:    {}\n  completed:    {}\n", Iso8601(m.trigger_unix_ms),
                           Iso8601(m.completed_unix_ms));
  std::cout << fmt::format("  full size:    {} ({} bytes)\n  checkpointed: {} ({} bytes)\n",
                           HumanBytes(m.FullBytes()), m.FullBytes(),
                           HumanBytes(m.CheckpointedBytes()), m.CheckpointedBytes());
  for (const auto& o : m.operators) {
    std::string ranges;
    for (const auto& r : KeyGroupRangesOf(m, o.uid)) ranges += " " + r.ToString();
    std::cout << fmt::format("  operator      {:<24} parallelism {}{}{}\n", o.uid, o.parallelism,
                             ranges.empty() ? std::string() : ", key groups" + ranges,
                             OperatorStateSummary(m, o.uid));
  }
  for (const auto& b : m.backends) {
    std::cout << fmt::format("\nbackend {}: key groups {} of {}, {} snapshot\n", b.backend_id,
                             b.key_group_range.ToString(), b.max_parallelism,
                             BackendSnapshotKindName(b.kind));
    if (b.kind == BackendSnapshotKind::kChangelog) {
      std::cout << fmt::format(
          "  changelog: materialization up to change {}, log up to change {} in {} segment(s)\n",
          b.materialized_sequence, b.changelog_sequence, b.changelog.size());
    }
    for (const auto& s : b.states) {
      std::cout << fmt::format("  state {:<20} {:<12} serializer {}{}{}\n", s.name,
                               StateKindName(s.kind), s.value_serializer,
                               s.kind == StateKind::kMap ? ", key " + s.user_key_serializer : "",
                               s.ttl ? ", time-to-live" : "");
    }
    for (const auto& f : b.files) {
      const std::string origin =
          f.written_by_checkpoint == m.checkpoint_id ? "uploaded"
          : f.written_by_checkpoint == 0
              ? "written by the changelog backend"
              : "inherited from checkpoint " + std::to_string(f.written_by_checkpoint);
      std::cout << fmt::format("  file  {:<40} {:>10}  {}  {:<13} {}\n", f.path, HumanBytes(f.size),
                               FormatChecksum(f.checksum), StateFileRoleName(f.role), origin);
    }
  }
  return 0;
}

json ProblemJson(const std::string& job_dir, const FileProblem& p) {
  return {{"job_dir", job_dir},
          {"checkpoint", p.checkpoint_id},
          {"path", p.path},
          {"error", p.message}};
}

json OrphanJson(const std::string& job_dir, const OrphanFile& o, int64_t now_ms) {
  return {{"job_dir", job_dir},
          {"path", o.path},
          {"size", o.size},
          {"age_seconds", (now_ms - o.modified_unix_ms) / 1000}};
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Savepoints are verified too, unless for gc: it never touches one.
Result<std::vector<VerifyReport>> VerifyAll(FileSystem& fs, const std::string& dir, bool checksums,
                                            bool savepoints) {
  WEIR_ASSIGN_OR_RETURN(auto dirs, RecognizedDirs(fs, dir, savepoints));
  if (dirs.empty()) {
    return Status::NotFound(dir + ": no weir job directory" +
                            (savepoints ? std::string(" or savepoint") : std::string()) + " in it");
  }
  std::vector<VerifyReport> reports;
  for (const auto& storage : dirs) {
    WEIR_ASSIGN_OR_RETURN(auto report, VerifyJobDirectory(storage, checksums));
    reports.push_back(std::move(report));
  }
  return reports;
}

int RunVerify(const std::string& dir_in, bool as_json, bool checksums,
              const StorageOptions& storage) {
  WEIR_OPEN_STORAGE_OR_FAIL(fs, dir, dir_in, storage);
  auto reports = VerifyAll(*fs, dir, checksums, /*savepoints=*/true);
  if (!reports.ok()) return Fail("", reports.status());
  const int64_t now = NowUnixMs();
  bool healthy = true;
  json checkpoints = json::array(), missing = json::array(), corrupt = json::array(),
       orphans = json::array(), unreadable = json::array(), foreign = json::array();
  uint64_t referenced = 0, total = 0, orphan_bytes = 0;
  for (const auto& r : *reports) {
    healthy = healthy && r.healthy();
    referenced += r.referenced_bytes;
    total += r.total_bytes;
    for (uint64_t id : r.checkpoints) checkpoints.push_back({{"job_dir", r.job_dir}, {"id", id}});
    for (const auto& p : r.missing) missing.push_back(ProblemJson(r.job_dir, p));
    for (const auto& p : r.corrupt) corrupt.push_back(ProblemJson(r.job_dir, p));
    for (const auto& p : r.unreadable_metadata) unreadable.push_back(ProblemJson(r.job_dir, p));
    for (const auto& p : r.foreign) foreign.push_back(ProblemJson(r.job_dir, p));
    for (const auto& o : r.orphans) {
      orphans.push_back(OrphanJson(r.job_dir, o, now));
      orphan_bytes += o.size;
    }
  }
  if (as_json) {
    std::cout
        << json{{"healthy", healthy}, {"checkpoints", checkpoints},        {"missing", missing},
                {"corrupt", corrupt}, {"unreadable_metadata", unreadable}, {"orphans", orphans},
                {"foreign", foreign}, {"referenced_bytes", referenced},    {"total_bytes", total}}
               .dump(2)
        << "\n";
  } else {
    for (const auto& r : *reports) {
      std::cout << fmt::format("{}: {} {} verified{}\n", r.job_dir, r.checkpoints.size(),
                               r.savepoint ? "savepoint" : "checkpoint(s)",
                               checksums ? " (size and checksum of every file)" : " (sizes only)");
      for (const auto& p : r.unreadable_metadata) std::cout << "  UNREADABLE " << p.message << "\n";
      for (const auto& p : r.missing) std::cout << "  MISSING    " << p.message << "\n";
      for (const auto& p : r.corrupt) std::cout << "  CORRUPT    " << p.message << "\n";
      for (const auto& p : r.foreign) {
        std::cout << "  FOREIGN    " << EscapeForLog(p.message) << "\n";
      }
      for (const auto& o : r.orphans) {
        std::cout << fmt::format("  ORPHAN     {} ({}, {} s old)\n", o.path, HumanBytes(o.size),
                                 (now - o.modified_unix_ms) / 1000);
      }
    }
    std::cout << fmt::format(
        "summary: {} checkpoints, {} missing, {} corrupt, {} unreadable metadata, {} foreign, "
        "{} orphans ({}); referenced {}, directory total {}\n",
        checkpoints.size(), missing.size(), corrupt.size(), unreadable.size(), foreign.size(),
        orphans.size(), HumanBytes(orphan_bytes), HumanBytes(referenced), HumanBytes(total));
  }
  return healthy ? 0 : 1;
}

int RunGc(const std::string& dir_in, const std::string& grace_text, bool do_delete, bool as_json,
          const StorageOptions& storage) {
  // The grammar of every duration weir reads (Flink's): "90 s", "15 min", "2h", "1 d".
  auto grace = ParseDuration(grace_text);
  if (!grace.ok()) return Fail("", Status::InvalidArgument("--grace: " + grace.status().message()));
  WEIR_OPEN_STORAGE_OR_FAIL(fs, dir, dir_in, storage);
  auto reports = VerifyAll(*fs, dir, /*checksums=*/false, /*savepoints=*/false);
  if (!reports.ok()) return Fail("", reports.status());
  const int64_t now = NowUnixMs();
  json deleted = json::array(), kept = json::array();
  uint64_t failures = 0, bytes = 0;
  for (const auto& r : *reports) {
    const CheckpointStorage storage(fs, r.job_dir);
    auto gc = CollectOrphans(storage, r, now, grace->count(), /*dry_run=*/!do_delete);
    if (!gc.ok()) return Fail("", gc.status());
    failures += gc->failures;
    for (const auto& o : gc->deleted) {
      deleted.push_back(OrphanJson(r.job_dir, o, now));
      bytes += o.size;
      if (!as_json) {
        std::cout << (do_delete ? "deleted      " : "would delete ") << JoinPath(r.job_dir, o.path)
                  << "\n";
      }
    }
    for (const auto& o : gc->kept_in_grace) kept.push_back(OrphanJson(r.job_dir, o, now));
  }
  if (as_json) {
    std::cout << json{{"dry_run", !do_delete},
                      {"deleted", deleted},
                      {"kept_in_grace", kept},
                      {"failures", failures}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("{} {} orphan(s) ({}); {} younger than the grace period {} kept{}\n",
                             do_delete ? "deleted" : "dry run: would delete", deleted.size(),
                             HumanBytes(bytes), kept.size(), grace_text,
                             do_delete ? "" : "; pass --delete to delete");
  }
  if (failures > 0)
    return Fail("", Status::IOError(std::to_string(failures) + " deletions failed"));
  return 0;
}

}  // namespace

void AddCheckpointsCommand(CLI::App& app, int& exit_code) {
  auto* checkpoints =
      app.add_subcommand("checkpoints", "List, inspect, verify and garbage-collect checkpoints");
  checkpoints->require_subcommand(1);

  auto* list = checkpoints->add_subcommand(
      "list", "One row per completed checkpoint or savepoint of a directory");
  auto list_dir = std::make_shared<std::string>();
  auto list_json = std::make_shared<bool>(false);
  list->add_option("DIR", *list_dir,
                   "state.checkpoints.dir, one job's directory, a savepoint, or a directory of "
                   "savepoints")
      ->required();
  list->add_flag("--json", *list_json, "Print a JSON array ordered by checkpoint id");
  auto list_storage = std::make_shared<StorageOptions>();
  AddStorageOptions(list, list_storage);
  list->callback([&exit_code, list_dir, list_json, list_storage] {
    exit_code = RunList(*list_dir, *list_json, *list_storage);
  });

  auto* inspect = checkpoints->add_subcommand(
      "inspect", "Show every file a checkpoint references, per backend and state");
  auto inspect_path = std::make_shared<std::string>();
  auto inspect_json = std::make_shared<bool>(false);
  inspect
      ->add_option("PATH", *inspect_path,
                   "A _metadata file, its chk-<N> directory or a savepoint's directory")
      ->required();
  inspect->add_flag("--json", *inspect_json, "Print JSON");
  auto inspect_storage = std::make_shared<StorageOptions>();
  AddStorageOptions(inspect, inspect_storage);
  inspect->callback([&exit_code, inspect_path, inspect_json, inspect_storage] {
    exit_code = RunInspect(*inspect_path, *inspect_json, *inspect_storage);
  });

  auto* verify = checkpoints->add_subcommand(
      "verify", "Check every completed checkpoint's and savepoint's files and find orphaned files");
  auto verify_dir = std::make_shared<std::string>();
  auto verify_json = std::make_shared<bool>(false);
  auto verify_sizes_only = std::make_shared<bool>(false);
  verify
      ->add_option("DIR", *verify_dir,
                   "state.checkpoints.dir, one job's directory, a savepoint, or a directory of "
                   "savepoints")
      ->required();
  verify->add_flag("--json", *verify_json, "Print JSON");
  verify->add_flag("--sizes-only", *verify_sizes_only, "Skip checksums (check presence and size)");
  auto verify_storage = std::make_shared<StorageOptions>();
  AddStorageOptions(verify, verify_storage);
  verify->callback([&exit_code, verify_dir, verify_json, verify_sizes_only, verify_storage] {
    exit_code = RunVerify(*verify_dir, *verify_json, !*verify_sizes_only, *verify_storage);
  });

  auto* gc = checkpoints->add_subcommand(
      "gc", "Delete orphaned files older than a grace period (a dry run unless --delete)");
  auto gc_dir = std::make_shared<std::string>();
  auto gc_grace = std::make_shared<std::string>("1h");
  auto gc_delete = std::make_shared<bool>(false);
  auto gc_json = std::make_shared<bool>(false);
  gc->add_option("DIR", *gc_dir, "state.checkpoints.dir, or one job's directory")->required();
  gc->add_option("--grace", *gc_grace,
                 "Keep orphans modified more recently than this (e.g. 0, 90 s, 15 min, 1 h)")
      ->capture_default_str();
  gc->add_flag("--delete", *gc_delete, "Delete; without it, only list what would go");
  gc->add_flag("--json", *gc_json, "Print JSON");
  auto gc_storage = std::make_shared<StorageOptions>();
  AddStorageOptions(gc, gc_storage);
  gc->callback([&exit_code, gc_dir, gc_grace, gc_delete, gc_json, gc_storage] {
    exit_code = RunGc(*gc_dir, *gc_grace, *gc_delete, *gc_json, *gc_storage);
  });
}

}  // namespace weir::cli
