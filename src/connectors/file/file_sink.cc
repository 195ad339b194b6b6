// The exactly-once file sink (weir/connectors.h). A part moves through three states:
//   in progress  .part-<uid>-<subtask>-<n>.inprogress, being written
//   pending      the same file, closed at checkpoint N's barrier and listed in the sink's
//                operator state of N (and of every later checkpoint until committed); its fsync
//                (and its directory's) is the asynchronous part of the sink's snapshot, so N
//                completes only once the part is durable, without pausing the records for it
//   committed    renamed to part-<uid>-<subtask>-<n> once N completed, or on restore from a
//                checkpoint that lists it
// The pending parts are a union list of operator state: after a rescale to P subtasks, subtask s
// commits the pending parts of every old subtask o with o mod P == s (under o's names) and
// deletes o's other hidden parts: they hold records after the checkpoint, which the sources
// replay. New parts are named after the subtask that writes them, numbered after its own.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "common/coding.h"
#include "common/failpoint.h"
#include "io/file_system.h"
#include "io/owned_directory.h"
#include "weir/connectors.h"

namespace weir {
namespace {

constexpr size_t kWriteBuffer = 64 * 1024;

// A closed part whose bytes may not be durable yet. MakeDurable may run on any thread, several
// times (checkpoints that list the same part): the first success is remembered.
class UnsyncedPart {
 public:
  UnsyncedPart(std::unique_ptr<WritableFile> file, std::shared_ptr<FileSystem> fs, std::string dir)
      : file_(std::move(file)), fs_(std::move(fs)), dir_(std::move(dir)) {}

  // The file, then its directory entry: a checkpoint must never list a part that a power loss
  // could take away (found by the crash driver's power-loss cycles). A failed fsync of the file
  // is final: after one, the kernel may have dropped the dirty pages and a second fsync would
  // succeed without them, so every later call fails too (the job restarts from a checkpoint
  // that does not list this part, and the restore deletes it).
  Status MakeDurable() {
    std::lock_guard<std::mutex> lock(mu_);
    if (durable_) return Status::OK();
    if (!file_failure_.ok()) return file_failure_;
    if (file_) {
      Status synced = file_->Sync();
      if (synced.ok()) synced = file_->Close();
      if (!synced.ok()) return file_failure_ = synced;
      file_.reset();
    }
    WEIR_RETURN_IF_ERROR(fs_->SyncDir(dir_));
    durable_ = true;
    return Status::OK();
  }

  bool durable() const { return durable_.load(); }

 private:
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;
  std::shared_ptr<FileSystem> fs_;
  std::string dir_;
  std::atomic<bool> durable_{false};
  Status file_failure_;
};

class FileSinkOperator final : public StreamOperator {
 public:
  explicit FileSinkOperator(std::string dir)
      : dir_(std::move(dir)), fs_(DefaultLocalFileSystem()) {}

  Status Open(OperatorContext& ctx, const std::optional<std::string>& restored, Output&) override {
    uid_ = ctx.operator_uid();
    subtask_ = static_cast<uint64_t>(ctx.subtask());
    parallelism_ = static_cast<uint64_t>(ctx.parallelism());
    checkpointing_ = ctx.checkpointing_enabled();
    WEIR_ASSIGN_OR_RETURN(pending_state_, ctx.operator_state().GetUnionListState(kPendingState));
    WEIR_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
    // The restored checkpoint completed, so its pending parts are committed now (some may have
    // been before the failure).
    std::vector<Pending> restored_pending;
    if (restored.has_value()) {
      WEIR_RETURN_IF_ERROR(DecodeLegacy(*restored, &restored_pending));
    } else {
      for (const auto& entry : *pending_state_) {
        WEIR_ASSIGN_OR_RETURN(Pending p, DecodePending(entry));
        if (AnswersFor(p.subtask)) restored_pending.push_back(p);
      }
    }
    pending_ = restored_pending;
    WEIR_RETURN_IF_ERROR(CommitUpTo(UINT64_MAX));
    // Hidden parts of the subtasks this one answers for that no checkpoint lists: output after
    // the checkpoint, or of an attempt that never checkpointed. Committed parts keep their
    // names: this subtask's new parts continue after its own.
    WEIR_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(dir_));
    for (const auto& e : entries) {
      const bool hidden = !e.name.empty() && e.name[0] == '.';
      auto part = ParsePartName(std::string_view(e.name).substr(hidden ? 1 : 0), hidden);
      if (!part || !AnswersFor(part->subtask)) continue;
      if (hidden) {
        // Only our own hidden parts, by name inside the output directory, never through a link.
        WEIR_RETURN_IF_ERROR(
            OwnedDirectory(fs_, dir_, OwnedDirectory::RootLink::kFollow).DeleteFile(e.name));
      } else if (part->subtask == subtask_) {
        next_part_ = std::max(next_part_, part->part + 1);
      }
    }
    for (const Pending& p : restored_pending) {
      if (p.subtask == subtask_) next_part_ = std::max(next_part_, p.part + 1);
    }
    return fs_->SyncDir(dir_);
  }

  Status ProcessRecord(Record record) override {
    const std::string& line = std::any_cast<const std::string&>(record);
    if (!current_) {
      WEIR_ASSIGN_OR_RETURN(current_, fs_->NewWritableFile(HiddenPath(subtask_, next_part_)));
      current_part_ = next_part_++;
    }
    buffer_.append(line);
    buffer_.push_back('\n');
    if (buffer_.size() >= kWriteBuffer) return FlushBuffer();
    return Status::OK();
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t checkpoint_id) override {
    WEIR_RETURN_IF_ERROR(ClosePart(checkpoint_id, /*sync_later=*/true));
    pending_state_->clear();
    for (const auto& p : pending_) {
      std::string entry;
      PutVarint64(&entry, p.subtask);
      PutVarint64(&entry, p.part);
      PutVarint64(&entry, p.checkpoint_id);
      pending_state_->push_back(std::move(entry));
    }
    return std::optional<std::string>();
  }

  // Makes every pending part durable that is not known to be: the one SnapshotState closed, and
  // any of an earlier checkpoint whose asynchronous part failed or never ran (it was declined),
  // since this checkpoint lists them too.
  std::function<Status()> TakeAsyncSnapshotWork(uint64_t) override {
    std::erase_if(unsynced_, [](const auto& part) { return part->durable(); });
    if (unsynced_.empty()) return nullptr;
    return [parts = unsynced_] {
      for (const auto& part : parts) WEIR_RETURN_IF_ERROR(part->MakeDurable());
      return Status::OK();
    };
  }

  Status NotifyCheckpointComplete(uint64_t checkpoint_id) override {
    return CommitUpTo(checkpoint_id);
  }

  Status Finish() override {
    if (checkpointing_) return Status::OK();  // the final checkpoint commits the last part
    WEIR_RETURN_IF_ERROR(ClosePart(0, /*sync_later=*/false));
    return CommitUpTo(UINT64_MAX);
  }

  void Close() override {
    if (current_) {
      (void)FlushBuffer();
      (void)current_->Close();
      current_.reset();
    }
  }

 private:
  static constexpr std::string_view kPendingState = "pending-parts";
  static constexpr std::string_view kInProgress = ".inprogress";

  struct Pending {
    uint64_t subtask;  // that wrote the part: its name has that subtask's index
    uint64_t part;
    uint64_t checkpoint_id;
  };
  struct PartName {
    uint64_t subtask;
    uint64_t part;
  };

  // Subtask s of P answers for the parts of every subtask o with o mod P == s: at an unchanged
  // parallelism its own, after a rescale also those of old subtasks beyond P.
  bool AnswersFor(uint64_t subtask) const { return subtask % parallelism_ == subtask_; }

  std::string Name(uint64_t subtask, uint64_t part) const {
    return "part-" + uid_ + "-" + std::to_string(subtask) + "-" + std::to_string(part);
  }
  std::string HiddenPath(uint64_t subtask, uint64_t part) const {
    return JoinPath(dir_, "." + Name(subtask, part) + std::string(kInProgress));
  }
  std::string FinalPath(uint64_t subtask, uint64_t part) const {
    return JoinPath(dir_, Name(subtask, part));
  }

  // "part-<uid>-<subtask>-<n>" (hidden: with ".inprogress"), both numbers all digits, so that
  // the parts of a sink whose uid extends ours ("<uid>-2") never parse as ours.
  std::optional<PartName> ParsePartName(std::string_view name, bool hidden) const {
    const std::string prefix = "part-" + uid_ + "-";
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    name.remove_prefix(prefix.size());
    if (hidden) {
      if (name.size() < kInProgress.size() ||
          name.substr(name.size() - kInProgress.size()) != kInProgress) {
        return std::nullopt;
      }
      name.remove_suffix(kInProgress.size());
    }
    const size_t dash = name.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto subtask = ParseDecimal(name.substr(0, dash));
    auto part = ParseDecimal(name.substr(dash + 1));
    if (!subtask || !part) return std::nullopt;
    return PartName{*subtask, *part};
  }

  static std::optional<uint64_t> ParseDecimal(std::string_view digits) {
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  }

  Status FlushBuffer() {
    if (buffer_.empty()) return Status::OK();
    Status s = current_->Append(buffer_);
    buffer_.clear();
    return s;
  }

  // The in-progress part (if any) becomes pending for `checkpoint_id`, with every record written
  // to it; made durable here, or with `sync_later` by the snapshot's asynchronous part.
  Status ClosePart(uint64_t checkpoint_id, bool sync_later) {
    if (!current_) return Status::OK();
    WEIR_RETURN_IF_ERROR(FlushBuffer());
    auto part = std::make_shared<UnsyncedPart>(std::move(current_), fs_, dir_);
    if (sync_later) {
      unsynced_.push_back(std::move(part));
    } else {
      WEIR_RETURN_IF_ERROR(part->MakeDurable());
    }
    pending_.push_back({subtask_, current_part_, checkpoint_id});
    return Status::OK();
  }

  Status CommitUpTo(uint64_t checkpoint_id) {
    WEIR_RETURN_IF_ERROR(Failpoints::Instance().Hit("sink.commit"));
    bool renamed = false;
    auto it = pending_.begin();
    for (; it != pending_.end() && it->checkpoint_id <= checkpoint_id; ++it) {
      const std::string hidden = HiddenPath(it->subtask, it->part);
      WEIR_ASSIGN_OR_RETURN(bool exists, fs_->Exists(hidden));
      if (exists) {
        WEIR_RETURN_IF_ERROR(fs_->Rename(hidden, FinalPath(it->subtask, it->part)));
        renamed = true;
        continue;
      }
      WEIR_ASSIGN_OR_RETURN(bool committed, fs_->Exists(FinalPath(it->subtask, it->part)));
      if (!committed) {
        return Status::NotFound("file sink: pending part " + hidden + " of checkpoint " +
                                std::to_string(it->checkpoint_id) +
                                " is missing; its records cannot be committed");
      }
    }
    pending_.erase(pending_.begin(), it);
    return renamed ? fs_->SyncDir(dir_) : Status::OK();
  }

  Result<Pending> DecodePending(std::string_view in) const {
    Pending p{};
    if (!GetVarint64(&in, &p.subtask) || !GetVarint64(&in, &p.part) ||
        !GetVarint64(&in, &p.checkpoint_id) || !in.empty()) {
      return Malformed();
    }
    return p;
  }

  // The opaque state of a checkpoint of metadata format 2 (before list state): this subtask's
  // next part number and pending parts.
  Status DecodeLegacy(std::string_view in, std::vector<Pending>* out) {
    uint64_t n = 0;
    bool ok = GetVarint64(&in, &next_part_) && GetVarint64(&in, &n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      Pending p{subtask_, 0, 0};
      ok = GetVarint64(&in, &p.part) && GetVarint64(&in, &p.checkpoint_id);
      out->push_back(p);
    }
    if (!ok || !in.empty()) return Malformed();
    return Status::OK();
  }

  Status Malformed() const {
    return Status::Corruption("file sink '" + uid_ + "' writing to " + dir_ +
                              ": its state in the checkpoint is malformed");
  }

  std::string dir_;
  std::shared_ptr<FileSystem> fs_;
  std::string uid_;
  uint64_t subtask_ = 0;
  uint64_t parallelism_ = 1;
  std::vector<std::string>* pending_state_ = nullptr;  // the union list of pending parts
  bool checkpointing_ = false;
  uint64_t next_part_ = 0;
  uint64_t current_part_ = 0;
  std::unique_ptr<WritableFile> current_;
  // Pending parts not yet known to be durable (the asynchronous parts make them so).
  std::vector<std::shared_ptr<UnsyncedPart>> unsynced_;
  std::string buffer_;
  std::vector<Pending> pending_;  // in checkpoint order
};

}  // namespace

Sink<std::string> FileSink(std::string dir) {
  return {[dir] { return std::make_unique<FileSinkOperator>(dir); }};
}

}  // namespace weir
