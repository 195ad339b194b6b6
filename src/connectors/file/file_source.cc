// The file source (weir/connectors.h): lines of a file or of a directory's files; position =
// (file, byte offset after the last line emitted) for each file of the subtask. The positions are
// a union list of operator state (as Flink's legacy Kafka consumer keeps its offsets): after a
// restore, at any parallelism, every subtask knows every file's position and takes the files
// the assignment gives it.
#include <algorithm>
#include <chrono>
#include <fstream>

#include "common/coding.h"
#include "io/file_system.h"
#include "weir/connectors.h"

namespace weir {
namespace {

bool Hidden(const std::string& name) { return name.empty() || name[0] == '.' || name[0] == '_'; }

class FileSourceOperator final : public SourceOperator {
 public:
  FileSourceOperator(std::string path, int64_t lines_per_sec)
      : path_(std::move(path)), total_rate_(lines_per_sec) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored) override {
    uid_ = ctx.operator_uid();
    WEIR_ASSIGN_OR_RETURN(state_, ctx.operator_state().GetUnionListState(kPositionsState));
    auto fs = NewPosixFileSystem();
    WEIR_ASSIGN_OR_RETURN(FileStatus st, fs->Stat(path_));
    std::vector<std::string> all;
    if (st.is_directory) {
      WEIR_ASSIGN_OR_RETURN(auto entries, fs->ListDir(path_));
      for (const auto& e : entries) {
        if (!e.is_directory && !Hidden(e.name)) all.push_back(JoinPath(path_, e.name));
      }
      std::sort(all.begin(), all.end());
    } else {
      all.push_back(path_);
    }
    for (size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % static_cast<size_t>(ctx.parallelism())) == ctx.subtask()) {
        files_.push_back({all[i], 0});
      }
    }
    // A checkpoint of metadata format 2 (before list state) holds this subtask's files.
    parallelism_ = ctx.parallelism();
    start_ = Clock::now();
    if (restored.has_value()) return RestoreLegacy(*restored, ctx.subtask());
    for (std::string_view entry : *state_) {
      std::string_view path;
      uint64_t offset = 0;
      if (!GetLengthPrefixed(&entry, &path) || !GetVarint64(&entry, &offset) || !entry.empty()) {
        return Malformed(ctx.subtask());
      }
      WEIR_RETURN_IF_ERROR(SetPosition(path, offset, all));
    }
    return Status::OK();
  }

  Result<SourcePoll> Poll(Output& out, size_t max_records) override {
    if (total_rate_ > 0) {
      // This subtask's share of the rate, as a budget that grows with the time since Open.
      const double rate = static_cast<double>(total_rate_) / parallelism_;
      const double elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
      const double allowed = elapsed_s * rate - static_cast<double>(emitted_);
      if (allowed < 1.0) {
        const auto wait_ms = static_cast<int64_t>((1.0 - allowed) * 1000.0 / rate) + 1;
        return SourcePoll{SourcePoll::State::kNothingAvailable, wait_ms};
      }
      max_records = std::min(max_records, static_cast<size_t>(allowed));
    }
    std::string line;
    for (size_t n = 0; n < max_records;) {
      if (current_ >= files_.size()) return SourcePoll{SourcePoll::State::kEndOfInput, 0};
      File& f = files_[current_];
      if (!in_.is_open()) {
        in_.open(f.path, std::ios::binary);
        if (!in_) return Status::IOError("file source '" + uid_ + "': cannot open " + f.path);
        in_.seekg(static_cast<std::streamoff>(f.offset));
      }
      if (!std::getline(in_, line)) {
        in_.close();
        ++current_;
        continue;
      }
      f.offset += line.size() + (in_.eof() ? 0 : 1);
      out.Emit(Record(line));
      ++n;
      ++emitted_;
    }
    return SourcePoll{SourcePoll::State::kMoreAvailable, 0};
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t) override {
    state_->clear();
    for (const auto& f : files_) {
      std::string entry;
      PutLengthPrefixed(&entry, f.path);
      PutVarint64(&entry, f.offset);
      state_->push_back(std::move(entry));
    }
    return std::optional<std::string>();
  }

 private:
  struct File {
    std::string path;
    uint64_t offset;
  };

  Status Malformed(int subtask) const {
    return Status::Corruption("file source '" + uid_ + "' subtask " + std::to_string(subtask) +
                              ": the position in the checkpoint is malformed");
  }

  // A position of the checkpoint: of one of this subtask's files, or of another subtask's. A
  // checkpointed file must still be among the input files.
  Status SetPosition(std::string_view path, uint64_t offset, const std::vector<std::string>& all) {
    if (std::find(all.begin(), all.end(), path) == all.end()) {
      return Status::NotFound("file source '" + uid_ + "': " + std::string(path) +
                              ", read up to byte " + std::to_string(offset) +
                              " in the checkpoint, is no longer among its input files");
    }
    auto it =
        std::find_if(files_.begin(), files_.end(), [&](const File& f) { return f.path == path; });
    if (it != files_.end()) it->offset = offset;
    // Files read to their end are skipped quickly by Poll (getline fails at once).
    return Status::OK();
  }

  Status RestoreLegacy(std::string_view in, int subtask) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n)) return Malformed(subtask);
    std::vector<std::string> mine;
    for (const auto& f : files_) mine.push_back(f.path);
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view path;
      uint64_t offset = 0;
      if (!GetLengthPrefixed(&in, &path) || !GetVarint64(&in, &offset)) return Malformed(subtask);
      WEIR_RETURN_IF_ERROR(SetPosition(path, offset, mine));
    }
    if (!in.empty()) return Malformed(subtask);
    return Status::OK();
  }

  using Clock = std::chrono::steady_clock;
  static constexpr std::string_view kPositionsState = "file-positions";

  std::string path_;
  int64_t total_rate_;  // lines per second over all subtasks; 0: unbounded
  double parallelism_ = 1;
  Clock::time_point start_;
  uint64_t emitted_ = 0;  // since Open, for the rate limit
  std::string uid_;
  std::vector<std::string>* state_ = nullptr;  // the union list of every file's position
  std::vector<File> files_;
  size_t current_ = 0;
  std::ifstream in_;
};

}  // namespace

Source<std::string> FileSource(std::string path, int64_t lines_per_sec) {
  return {
      [path, lines_per_sec] { return std::make_unique<FileSourceOperator>(path, lines_per_sec); }};
}

}  // namespace weir
