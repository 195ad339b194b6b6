// The exactly-once file sink (weir/connectors.h). A part moves through three states:
//   in progress  .part-<uid>-<subtask>-<n>.inprogress, being written
//   pending      the same file, closed at checkpoint N's barrier and listed in the sink's
//                operator state of N (and of every later checkpoint until committed); its fsync
//                (and its directory's) is the asynchronous part of the sink's snapshot, so N
//                completes only once the part is durable, without pausing the records for it
//   committed    renamed to part-<uid>-<subtask>-<n> once N completed, or on restore from a
//                checkpoint that lists it
// A restore deletes this subtask's other hidden parts: they hold records after the checkpoint,
// which the sources replay.
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
    prefix_ = "part-" + ctx.operator_uid() + "-" + std::to_string(ctx.subtask()) + "-";
    checkpointing_ = ctx.checkpointing_enabled();
    WEIR_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
    if (restored.has_value()) {
      WEIR_RETURN_IF_ERROR(Decode(*restored));
      // The pending parts of the restored checkpoint: that checkpoint completed, so they are
      // committed now (some may have been before the failure).
      WEIR_RETURN_IF_ERROR(CommitUpTo(UINT64_MAX));
    }
    // Parts of ours that no checkpoint lists: output after the checkpoint, or of an attempt that
    // never checkpointed. Committed parts of an earlier run keep their names: continue after them.
    WEIR_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(dir_));
    for (const auto& e : entries) {
      const std::string hidden_prefix = "." + prefix_;
      if (e.name.rfind(hidden_prefix, 0) == 0) {
        // Only our own hidden parts, by name inside the output directory, never through a link.
        WEIR_RETURN_IF_ERROR(
            OwnedDirectory(fs_, dir_, OwnedDirectory::RootLink::kFollow).DeleteFile(e.name));
      } else if (!restored.has_value() && e.name.rfind(prefix_, 0) == 0) {
        next_part_ =
            std::max<uint64_t>(next_part_, std::stoull("0" + e.name.substr(prefix_.size())) + 1);
      }
    }
    return fs_->SyncDir(dir_);
  }

  Status ProcessRecord(Record record) override {
    const std::string& line = std::any_cast<const std::string&>(record);
    if (!current_) {
      WEIR_ASSIGN_OR_RETURN(current_, fs_->NewWritableFile(HiddenPath(next_part_)));
      current_part_ = next_part_++;
    }
    buffer_.append(line);
    buffer_.push_back('\n');
    if (buffer_.size() >= kWriteBuffer) return FlushBuffer();
    return Status::OK();
  }

  Result<std::optional<std::string>> SnapshotState(uint64_t checkpoint_id) override {
    WEIR_RETURN_IF_ERROR(ClosePart(checkpoint_id, /*sync_later=*/true));
    std::string bytes;
    PutVarint64(&bytes, next_part_);
    PutVarint64(&bytes, pending_.size());
    for (const auto& p : pending_) {
      PutVarint64(&bytes, p.part);
      PutVarint64(&bytes, p.checkpoint_id);
    }
    return std::optional<std::string>(std::move(bytes));
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
  struct Pending {
    uint64_t part;
    uint64_t checkpoint_id;
  };

  std::string HiddenPath(uint64_t part) const {
    return JoinPath(dir_, "." + prefix_ + std::to_string(part) + ".inprogress");
  }
  std::string FinalPath(uint64_t part) const {
    return JoinPath(dir_, prefix_ + std::to_string(part));
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
    pending_.push_back({current_part_, checkpoint_id});
    return Status::OK();
  }

  Status CommitUpTo(uint64_t checkpoint_id) {
    WEIR_RETURN_IF_ERROR(Failpoints::Instance().Hit("sink.commit"));
    bool renamed = false;
    auto it = pending_.begin();
    for (; it != pending_.end() && it->checkpoint_id <= checkpoint_id; ++it) {
      const std::string hidden = HiddenPath(it->part);
      WEIR_ASSIGN_OR_RETURN(bool exists, fs_->Exists(hidden));
      if (exists) {
        WEIR_RETURN_IF_ERROR(fs_->Rename(hidden, FinalPath(it->part)));
        renamed = true;
        continue;
      }
      WEIR_ASSIGN_OR_RETURN(bool committed, fs_->Exists(FinalPath(it->part)));
      if (!committed) {
        return Status::NotFound("file sink: pending part " + hidden + " of checkpoint " +
                                std::to_string(it->checkpoint_id) +
                                " is missing; its records cannot be committed");
      }
    }
    pending_.erase(pending_.begin(), it);
    return renamed ? fs_->SyncDir(dir_) : Status::OK();
  }

  Status Decode(std::string_view in) {
    uint64_t n = 0;
    bool ok = GetVarint64(&in, &next_part_) && GetVarint64(&in, &n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      Pending p{};
      ok = GetVarint64(&in, &p.part) && GetVarint64(&in, &p.checkpoint_id);
      pending_.push_back(p);
    }
    if (!ok || !in.empty()) {
      return Status::Corruption("file sink writing to " + dir_ +
                                ": its state in the checkpoint is malformed");
    }
    return Status::OK();
  }

  std::string dir_;
  std::shared_ptr<FileSystem> fs_;
  std::string prefix_;
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
