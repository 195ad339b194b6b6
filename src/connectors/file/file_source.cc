// The file source (weir/connectors.h): lines of a file or of a directory's files; position =
// (file, byte offset after the last line emitted) for each file of the subtask.
#include <algorithm>
#include <fstream>

#include "common/coding.h"
#include "io/file_system.h"
#include "weir/connectors.h"

namespace weir {
namespace {

bool Hidden(const std::string& name) { return name.empty() || name[0] == '.' || name[0] == '_'; }

class FileSourceOperator final : public SourceOperator {
 public:
  explicit FileSourceOperator(std::string path) : path_(std::move(path)) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored) override {
    uid_ = ctx.operator_uid();
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
    if (restored.has_value()) WEIR_RETURN_IF_ERROR(Restore(*restored, ctx.subtask()));
    return Status::OK();
  }

  Result<SourcePoll> Poll(Output& out, size_t max_records) override {
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
    }
    return SourcePoll{SourcePoll::State::kMoreAvailable, 0};
  }

  Result<std::string> SnapshotState(uint64_t) override {
    std::string bytes;
    PutVarint64(&bytes, files_.size());
    for (const auto& f : files_) {
      PutLengthPrefixed(&bytes, f.path);
      PutVarint64(&bytes, f.offset);
    }
    return bytes;
  }

 private:
  struct File {
    std::string path;
    uint64_t offset;
  };

  Status Restore(std::string_view in, int subtask) {
    const auto malformed = [&] {
      return Status::Corruption("file source '" + uid_ + "' subtask " + std::to_string(subtask) +
                                ": the position in the checkpoint is malformed");
    };
    uint64_t n = 0;
    if (!GetVarint64(&in, &n)) return malformed();
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view path;
      uint64_t offset = 0;
      if (!GetLengthPrefixed(&in, &path) || !GetVarint64(&in, &offset)) return malformed();
      auto it =
          std::find_if(files_.begin(), files_.end(), [&](const File& f) { return f.path == path; });
      if (it == files_.end()) {
        return Status::NotFound("file source '" + uid_ + "': " + std::string(path) +
                                ", read up to byte " + std::to_string(offset) +
                                " in the checkpoint, is no longer among its input files");
      }
      it->offset = offset;
    }
    if (!in.empty()) return malformed();
    // Files read to their end are skipped quickly by Poll (getline fails at once).
    return Status::OK();
  }

  std::string path_;
  std::string uid_;
  std::vector<File> files_;
  size_t current_ = 0;
  std::ifstream in_;
};

}  // namespace

Source<std::string> FileSource(std::string path) {
  return {[path] { return std::make_unique<FileSourceOperator>(path); }};
}

}  // namespace weir
