#include "checkpoint/checkpoint_metadata.h"

#include <set>

#include "common/checksum.h"
#include "common/coding.h"
#include "state/state_meta_coding.h"

namespace weir {
namespace {

constexpr std::string_view kMagic = "WEIRCKPT";
constexpr size_t kHeaderBytes = 8 + 4 + 8;
constexpr size_t kTrailerBytes = 8;

void EncodeStates(const std::vector<StateMetaInfo>& states, std::string* out) {
  PutVarint64(out, states.size());
  for (const auto& s : states) {
    PutLengthPrefixed(out, s.name);
    out->push_back(static_cast<char>(EncodeStateKindByte(s)));
    PutLengthPrefixed(out, s.value_serializer);
    PutLengthPrefixed(out, s.user_key_serializer);
  }
}

void EncodeBackend(const KeyedStateHandle& b, std::string* out) {
  PutLengthPrefixed(out, b.backend_id);
  PutVarint64(out, static_cast<uint64_t>(b.max_parallelism));
  PutVarint64(out, static_cast<uint64_t>(b.key_group_range.start));
  PutVarint64(out, static_cast<uint64_t>(b.key_group_range.end));
  out->push_back(static_cast<char>(b.kind));
  PutVarint64(out, b.checkpointed_bytes);
  PutVarint64(out, b.full_bytes);
  EncodeStates(b.states, out);
  PutVarint64(out, b.files.size());
  for (const auto& f : b.files) {
    PutLengthPrefixed(out, f.path);
    PutVarint64(out, f.size);
    PutFixed64(out, f.checksum);
    out->push_back(static_cast<char>(f.role));
    PutLengthPrefixed(out, f.local_name);
    PutVarint64(out, f.written_by_checkpoint);
  }
  if (b.kind != BackendSnapshotKind::kChangelog) return;
  PutVarint64(out, b.materialized_sequence);
  PutVarint64(out, b.changelog_sequence);
  PutVarint64(out, b.changelog.size());
  for (const auto& seg : b.changelog) {
    PutLengthPrefixed(out, seg.path);
    PutVarint64(out, seg.offset);
    PutVarint64(out, seg.length);
    PutVarint64(out, seg.first_sequence);
    PutVarint64(out, seg.last_sequence);
  }
  EncodeStates(b.materialization_states, out);  // version 5
}

// Decodes the body; each Get returns false on malformed input, reported once by the caller.
class BodyDecoder {
 public:
  explicit BodyDecoder(std::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) { return GetVarint64(&in_, v); }
  bool Int(int* v, uint64_t max) {
    uint64_t x = 0;
    if (!GetVarint64(&in_, &x) || x > max) return false;
    *v = static_cast<int>(x);
    return true;
  }
  bool Byte(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool Fixed(uint64_t* v) { return GetFixed64(&in_, v); }
  bool String(std::string* s) {
    std::string_view v;
    if (!GetLengthPrefixed(&in_, &v)) return false;
    s->assign(v);
    return true;
  }
  bool Done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

// Version 3: opaque bytes (if any) and named lists. Versions 1 and 2 held opaque bytes only.
void EncodeOperatorState(const OperatorStateHandle& s, std::string* out) {
  PutLengthPrefixed(out, s.operator_uid);
  PutVarint64(out, static_cast<uint64_t>(s.subtask));
  out->push_back(s.opaque ? 1 : 0);
  if (s.opaque) PutLengthPrefixed(out, *s.opaque);
  PutVarint64(out, s.lists.size());
  for (const auto& list : s.lists) {
    PutLengthPrefixed(out, list.name);
    out->push_back(static_cast<char>(list.mode));
    PutVarint64(out, list.entries.size());
    for (const auto& e : list.entries) PutLengthPrefixed(out, e);
  }
}

bool DecodeOperatorState(BodyDecoder& d, uint32_t version, OperatorStateHandle* s,
                         std::string* problem) {
  if (!d.String(&s->operator_uid) || !d.Int(&s->subtask, kUpperBoundMaxParallelism)) return false;
  if (version < 3) return d.String(&s->opaque.emplace());
  uint8_t has_opaque = 0;
  uint64_t lists = 0;
  if (!d.Byte(&has_opaque) || has_opaque > 1) return false;
  if (has_opaque == 1 && !d.String(&s->opaque.emplace())) return false;
  if (!d.Varint(&lists)) return false;
  std::set<std::string> names;  // a crafted file may hold millions of lists: no quadratic check
  for (uint64_t i = 0; i < lists; ++i) {
    OperatorStateList list;
    uint8_t mode = 0;
    uint64_t entries = 0;
    if (!d.String(&list.name) || !d.Byte(&mode) || mode > 1 || !d.Varint(&entries)) return false;
    list.mode = static_cast<OperatorStateMode>(mode);
    for (uint64_t e = 0; e < entries; ++e) {
      if (!d.String(&list.entries.emplace_back())) return false;
    }
    if (!names.insert(list.name).second) {
      *problem = "operator " + s->operator_uid + " subtask " + std::to_string(s->subtask) +
                 " has two operator-state lists named '" + list.name + "'";
      return false;
    }
    s->lists.push_back(std::move(list));
  }
  return true;
}

// A changelog handle's log: its segments are chunks of its own kChangelog files, in order, and
// together they hold every change after the materialization up to changelog_sequence; its files
// of the changelog roles lie in shared/ (log files: or in the log directory, "dstl/") and were
// written outside any checkpoint; no file of another role lies in the log directory. Its
// materialization is one key-group stream or one incremental materialization (kMaterialization
// files with local names and the SSTs they need, in shared/), never both.
bool CheckChangelog(const KeyedStateHandle& b, std::string* problem) {
  const std::string name = "backend " + b.backend_id + "'s changelog";
  const std::string shared_prefix = std::string(kSharedDirName) + "/";
  std::set<std::string> logs;
  int streams = 0, native_files = 0, ssts = 0;
  const std::string log_dir_prefix = std::string(kChangelogDirPrefix) + "/";
  for (const auto& f : b.files) {
    const bool in_log_dir = f.path.starts_with(log_dir_prefix);
    if (in_log_dir && f.role != StateFileRole::kChangelog) {
      *problem = "file " + f.path + " of backend " + b.backend_id + " is a " +
                 StateFileRoleName(f.role) +
                 " file in the state-change log directory (only log files lie there)";
      return false;
    }
    if (b.kind == BackendSnapshotKind::kChangelog && f.role != StateFileRole::kChangelog &&
        f.role != StateFileRole::kMaterialization) {
      if (f.role != StateFileRole::kShared || !f.path.starts_with(shared_prefix)) {
        *problem = "file " + f.path + " of " + name + " is a " + StateFileRoleName(f.role) +
                   " file outside shared/ (a changelog snapshot has none)";
        return false;
      }
      ++ssts;
      continue;
    }
    if (f.role != StateFileRole::kChangelog && f.role != StateFileRole::kMaterialization) continue;
    if (b.kind != BackendSnapshotKind::kChangelog) {
      *problem = "file " + f.path + " is a " + StateFileRoleName(f.role) + " file of backend " +
                 b.backend_id + ", whose snapshot is not a changelog one";
      return false;
    }
    if (!(f.path.starts_with(shared_prefix) || in_log_dir) || f.written_by_checkpoint != 0) {
      *problem = "file " + f.path + " of " + name +
                 " is not a file of shared/ (or of the state-change log directory) written "
                 "outside checkpoints";
      return false;
    }
    if (f.role == StateFileRole::kChangelog) logs.insert(f.path);
    if (f.role == StateFileRole::kMaterialization) {
      ++(f.local_name.empty() ? streams : native_files);
    }
  }
  if (b.kind != BackendSnapshotKind::kChangelog) return true;
  const bool mixed = streams > 0 && native_files > 0;
  if (streams > 1 || mixed || (ssts > 0 && native_files == 0) ||
      (!b.materialization_states.empty() && native_files == 0) ||
      b.changelog_sequence < b.materialized_sequence) {
    *problem = name + " is inconsistent (" + std::to_string(streams) +
               " materialization streams, " + std::to_string(native_files) +
               " native materialization files, " + std::to_string(ssts) + " SSTs, " +
               std::to_string(b.materialization_states.size()) + " materialized states, sequence " +
               std::to_string(b.changelog_sequence) + " before the materialization's " +
               std::to_string(b.materialized_sequence) + ")";
    return false;
  }
  uint64_t next = b.materialized_sequence + 1;  // the first change the segments must hold
  for (const auto& seg : b.changelog) {
    if (!logs.count(seg.path) || seg.length == 0 || seg.first_sequence > next ||
        seg.last_sequence < next || seg.last_sequence < seg.first_sequence) {
      *problem = name + ": segment of " + seg.path + " (changes " +
                 std::to_string(seg.first_sequence) + ".." + std::to_string(seg.last_sequence) +
                 ") is not the next one (change " + std::to_string(next) + ") or not its file";
      return false;
    }
    next = seg.last_sequence + 1;
  }
  if (next <= b.changelog_sequence) {
    *problem = name + " misses changes " + std::to_string(next) + ".." +
               std::to_string(b.changelog_sequence);
    return false;
  }
  return true;
}

bool DecodeStates(BodyDecoder& d, std::vector<StateMetaInfo>* out) {
  uint64_t states = 0;
  if (!d.Varint(&states)) return false;
  for (uint64_t i = 0; i < states; ++i) {
    StateMetaInfo s;
    uint8_t state_kind = 0;
    if (!d.String(&s.name) || !d.Byte(&state_kind) || !DecodeStateKindByte(state_kind, &s) ||
        !d.String(&s.value_serializer) || !d.String(&s.user_key_serializer)) {
      return false;
    }
    out->push_back(std::move(s));
  }
  return true;
}

bool DecodeBackend(BodyDecoder& d, uint32_t version, KeyedStateHandle* b, std::string* problem) {
  uint8_t kind = 0;
  uint64_t files = 0;
  if (!d.String(&b->backend_id) || !d.Int(&b->max_parallelism, kUpperBoundMaxParallelism) ||
      !d.Int(&b->key_group_range.start, kUpperBoundMaxParallelism) ||
      !d.Int(&b->key_group_range.end, kUpperBoundMaxParallelism) || !d.Byte(&kind) || kind > 2 ||
      !d.Varint(&b->checkpointed_bytes) || !d.Varint(&b->full_bytes)) {
    return false;
  }
  if (b->max_parallelism < 1 || b->key_group_range.empty() ||
      b->key_group_range.end >= b->max_parallelism) {
    *problem = "backend " + b->backend_id + " has an invalid key-group range";
    return false;
  }
  b->kind = static_cast<BackendSnapshotKind>(kind);
  if (!DecodeStates(d, &b->states) || !d.Varint(&files)) return false;
  for (uint64_t i = 0; i < files; ++i) {
    StateFileHandle f;
    uint8_t role = 0;
    if (!d.String(&f.path) || !d.Varint(&f.size) || !d.Fixed(&f.checksum) || !d.Byte(&role) ||
        role < 1 || role > kMaxStateFileRole || !d.String(&f.local_name) ||
        !d.Varint(&f.written_by_checkpoint)) {
      return false;
    }
    f.role = static_cast<StateFileRole>(role);
    const Status path_ok = ValidateRelativePath(f.path);
    if (!path_ok.ok()) {
      *problem = path_ok.message();
      return false;
    }
    b->files.push_back(std::move(f));
  }
  if (b->kind == BackendSnapshotKind::kChangelog) {
    uint64_t segments = 0;
    if (!d.Varint(&b->materialized_sequence) || !d.Varint(&b->changelog_sequence) ||
        !d.Varint(&segments)) {
      return false;
    }
    for (uint64_t i = 0; i < segments; ++i) {
      ChangelogSegmentHandle seg;
      if (!d.String(&seg.path) || !d.Varint(&seg.offset) || !d.Varint(&seg.length) ||
          !d.Varint(&seg.first_sequence) || !d.Varint(&seg.last_sequence)) {
        return false;
      }
      b->changelog.push_back(std::move(seg));
    }
    if (version >= 5 && !DecodeStates(d, &b->materialization_states)) return false;
  }
  return CheckChangelog(*b, problem);
}

Status ValidateIdentifiers(const CheckpointMetadata& m) {
  if (!m.job_id.empty()) WEIR_RETURN_IF_ERROR(ValidateIdentifier("job id", m.job_id));
  for (const auto& b : m.backends) {
    WEIR_RETURN_IF_ERROR(ValidateIdentifier("backend id", b.backend_id));
    for (const auto& f : b.files) {
      if (!f.local_name.empty()) {
        WEIR_RETURN_IF_ERROR(ValidateIdentifier("file name", f.local_name));
      }
    }
  }
  for (const auto& o : m.operators) WEIR_RETURN_IF_ERROR(ValidateIdentifier("operator uid", o.uid));
  for (const auto& s : m.operator_states) {
    WEIR_RETURN_IF_ERROR(ValidateIdentifier("operator uid", s.operator_uid));
  }
  return Status::OK();
}

}  // namespace

const char* CheckpointKindName(CheckpointKind kind) {
  switch (kind) {
    case CheckpointKind::kFull:
      return "full";
    case CheckpointKind::kIncremental:
      return "incremental";
    case CheckpointKind::kCanonicalSavepoint:
      return "canonical savepoint";
    case CheckpointKind::kNativeSavepoint:
      return "native savepoint";
    case CheckpointKind::kChangelog:
      return "changelog";
  }
  return "unknown";
}

uint64_t CheckpointMetadata::FullBytes() const {
  uint64_t n = 0;
  for (const auto& b : backends) n += b.full_bytes;
  return n;
}

uint64_t CheckpointMetadata::CheckpointedBytes() const {
  uint64_t n = 0;
  for (const auto& b : backends) n += b.checkpointed_bytes;
  return n;
}

size_t CheckpointMetadata::FileCount() const {
  size_t n = 0;
  for (const auto& b : backends) n += b.files.size();
  return n;
}

std::string EncodeCheckpointMetadata(const CheckpointMetadata& m) {
  std::string body;
  PutVarint64(&body, m.checkpoint_id);
  body.push_back(static_cast<char>(m.kind));
  PutVarint64(&body, static_cast<uint64_t>(m.trigger_unix_ms));
  PutVarint64(&body, static_cast<uint64_t>(m.completed_unix_ms));
  PutLengthPrefixed(&body, m.job_id);
  PutVarint64(&body, m.backends.size());
  for (const auto& b : m.backends) EncodeBackend(b, &body);
  PutVarint64(&body, m.operators.size());
  for (const auto& o : m.operators) {
    PutLengthPrefixed(&body, o.uid);
    PutVarint64(&body, static_cast<uint64_t>(o.parallelism));
  }
  PutVarint64(&body, m.operator_states.size());
  for (const auto& s : m.operator_states) EncodeOperatorState(s, &body);

  std::string out(kMagic);
  PutFixed32(&out, kMetadataFormatVersion);
  PutFixed64(&out, body.size());
  out.append(body);
  PutFixed64(&out, Hash64(out));
  return out;
}

Result<CheckpointMetadata> DecodeCheckpointMetadata(std::string_view bytes,
                                                    const std::string& source) {
  const auto corrupt = [&](const std::string& what) {
    return Status::Corruption(source + ": " + what);
  };
  if (bytes.size() >= kMagic.size() && bytes.substr(0, kMagic.size()) != kMagic) {
    return corrupt("not a weir checkpoint metadata file (bad magic)");
  }
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    return corrupt("truncated: " + std::to_string(bytes.size()) + " bytes");
  }
  const uint32_t version = DecodeFixed32(bytes.data() + 8);
  const uint64_t body_size = DecodeFixed64(bytes.data() + 12);
  if (body_size != bytes.size() - kHeaderBytes - kTrailerBytes) {
    return corrupt(body_size > bytes.size()
                       ? "truncated: " + std::to_string(bytes.size()) + " bytes"
                       : "length does not match its header");
  }
  if (version < 1 || version > kMetadataFormatVersion) {
    return corrupt("format version " + std::to_string(version) +
                   " is not supported; this weir reads versions 1 to " +
                   std::to_string(kMetadataFormatVersion));
  }
  const size_t checked = kHeaderBytes + body_size;
  if (Hash64(bytes.substr(0, checked)) != DecodeFixed64(bytes.data() + checked)) {
    return corrupt("checksum mismatch (the file is corrupt)");
  }

  BodyDecoder d(bytes.substr(kHeaderBytes, body_size));
  CheckpointMetadata m;
  uint8_t kind = 0;
  uint64_t trigger = 0, completed = 0, backends = 0;
  std::string problem;
  bool ok = d.Varint(&m.checkpoint_id) && d.Byte(&kind) && kind <= 4 && d.Varint(&trigger) &&
            d.Varint(&completed) && d.String(&m.job_id) && d.Varint(&backends);
  for (uint64_t i = 0; ok && i < backends; ++i) {
    KeyedStateHandle b;
    ok = DecodeBackend(d, version, &b, &problem);
    m.backends.push_back(std::move(b));
  }
  uint64_t operators = 0, operator_states = 0;
  if (ok && version >= 2) {
    ok = d.Varint(&operators);
    for (uint64_t i = 0; ok && i < operators; ++i) {
      OperatorInfo o;
      ok = d.String(&o.uid) && d.Int(&o.parallelism, kUpperBoundMaxParallelism) &&
           o.parallelism >= 1;
      m.operators.push_back(std::move(o));
    }
    ok = ok && d.Varint(&operator_states);
    for (uint64_t i = 0; ok && i < operator_states; ++i) {
      OperatorStateHandle s;
      ok = DecodeOperatorState(d, version, &s, &problem);
      m.operator_states.push_back(std::move(s));
    }
  }
  if (!ok || !d.Done()) return corrupt(problem.empty() ? "malformed body" : problem);
  // The checksum only proves the bytes are as written, not by whom: every identifier that may
  // become part of a path is checked against the grammar before anything uses it.
  if (Status ids = ValidateIdentifiers(m); !ids.ok()) return corrupt(ids.message());
  m.kind = static_cast<CheckpointKind>(kind);
  if (IsSavepoint(m.kind)) {
    // Self-contained: a savepoint references no shared file, only what it wrote itself.
    for (const auto& b : m.backends) {
      for (const auto& f : b.files) {
        if (IsSharedRole(f.role) || f.written_by_checkpoint != m.checkpoint_id) {
          return corrupt("savepoint file " + f.path +
                         " is not the savepoint's own (a savepoint references nothing outside "
                         "its directory)");
        }
      }
    }
  }
  m.trigger_unix_ms = static_cast<int64_t>(trigger);
  m.completed_unix_ms = static_cast<int64_t>(completed);
  return m;
}

Result<CheckpointMetadata> ReadCheckpointMetadata(FileSystem& fs, const std::string& path) {
  // Looked at before it is read: a link, a FIFO or a huge sparse file is refused, not followed,
  // waited on or loaded into memory.
  WEIR_ASSIGN_OR_RETURN(const FileStatus st, fs.Stat(path));
  if (st.is_symlink || st.is_other || st.is_directory) {
    return Status::Corruption(path + ": not a regular file (" +
                              (st.is_symlink ? "a symbolic link"
                               : st.is_other ? "a FIFO, socket or device"
                                             : "a directory") +
                              "); a checkpoint's _metadata is always one");
  }
  if (st.size > kMaxMetadataBytes) {
    return Status::Corruption(path + ": " + std::to_string(st.size) + " bytes, more than the " +
                              std::to_string(kMaxMetadataBytes >> 20) +
                              " MiB a checkpoint's _metadata may have");
  }
  WEIR_ASSIGN_OR_RETURN(auto file, fs.NewReadableFile(path));
  if (file->Size() > kMaxMetadataBytes) {
    return Status::Corruption(path + ": grew beyond " + std::to_string(kMaxMetadataBytes >> 20) +
                              " MiB while being opened");
  }
  std::string bytes;
  WEIR_RETURN_IF_ERROR(file->ReadAt(0, file->Size(), &bytes));
  if (bytes.size() != file->Size()) return Status::IOError(path + ": short read");
  return DecodeCheckpointMetadata(bytes, path);
}

Status WriteCheckpointMetadata(const CheckpointStorage& storage,
                               const CheckpointMetadata& metadata) {
  WEIR_RETURN_IF_ERROR(storage.CreateCheckpointDir(metadata.checkpoint_id));
  return storage.PublishMetadata(metadata.checkpoint_id, EncodeCheckpointMetadata(metadata));
}

}  // namespace weir
