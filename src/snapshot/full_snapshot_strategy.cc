#include "snapshot/full_snapshot_strategy.h"

#include "common/failpoint.h"
#include "common/retry.h"
#include "snapshot/key_group_stream.h"
#include "state/ttl_snapshot_view.h"

namespace weir {
namespace {

class FullAsyncPart final : public AsyncSnapshotPart {
 public:
  FullAsyncPart(std::unique_ptr<StateSnapshotView> view, CheckpointStorage storage,
                uint64_t checkpoint_id, std::string backend_id, int max_parallelism,
                KeyGroupRange range)
      : view_(std::move(view)),
        storage_(std::move(storage)),
        checkpoint_id_(checkpoint_id),
        backend_id_(std::move(backend_id)),
        max_parallelism_(max_parallelism),
        range_(range) {}

  Result<KeyedStateHandle> Run() override {
    const std::string relative =
        storage_.RelativePrivateFile(checkpoint_id_, FullSnapshotStrategy::FileName(backend_id_));
    auto written = WriteKeyGroupStreamFile(storage_, *view_, max_parallelism_, range_, relative,
                                           storage_.CheckpointDir(checkpoint_id_), [&] {
                                             return storage_.CreateCheckpointDir(checkpoint_id_);
                                           });
    if (!written.ok()) {
      return written.status().WithContext("full snapshot of backend " + backend_id_ +
                                          " for checkpoint " + std::to_string(checkpoint_id_));
    }
    KeyedStateHandle handle;
    handle.backend_id = backend_id_;
    handle.max_parallelism = max_parallelism_;
    handle.key_group_range = range_;
    handle.kind = BackendSnapshotKind::kFull;
    handle.checkpointed_bytes = written->size;
    handle.full_bytes = written->size;
    handle.states = view_->states();
    handle.files.push_back(StateFileHandle{relative, written->size, written->checksum,
                                           StateFileRole::kFullSnapshot, "", checkpoint_id_});
    view_.reset();  // release the view (a RocksDB snapshot) as soon as the bytes are durable
    return handle;
  }

 private:
  std::unique_ptr<StateSnapshotView> view_;
  CheckpointStorage storage_;
  uint64_t checkpoint_id_;
  std::string backend_id_;
  int max_parallelism_;
  KeyGroupRange range_;
};

}  // namespace

Result<WrittenFile> WriteKeyGroupStreamFile(const CheckpointStorage& storage,
                                            const StateSnapshotView& view, int max_parallelism,
                                            KeyGroupRange range, const std::string& relative,
                                            const std::string& dir,
                                            const std::function<Status()>& create_dir,
                                            std::string_view failpoint) {
  WEIR_ASSIGN_OR_RETURN(const std::string path, storage.ResolveRelative(relative));
  auto written =
      RetryRetryableResult<WrittenFile>("writing " + relative, [&]() -> Result<WrittenFile> {
        if (!failpoint.empty()) WEIR_RETURN_IF_ERROR(Failpoints::Instance().Hit(failpoint));
        WEIR_RETURN_IF_ERROR(create_dir());
        WEIR_ASSIGN_OR_RETURN(auto file, storage.fs().NewWritableFile(path));
        WEIR_ASSIGN_OR_RETURN(WrittenFile w,
                              WriteKeyGroupStream(view, max_parallelism, range, *file));
        WEIR_RETURN_IF_ERROR(file->Sync());
        WEIR_RETURN_IF_ERROR(file->Close());
        WEIR_RETURN_IF_ERROR(storage.fs().SyncDir(dir));
        return w;
      });
  if (!written.ok()) (void)storage.owned().DeleteFile(relative);  // nothing references it
  return written;
}

Result<std::unique_ptr<AsyncSnapshotPart>> FullSnapshotStrategy::SyncPart(
    uint64_t checkpoint_id, const CheckpointOptions& options) {
  // Every savepoint this strategy writes is canonical: a full snapshot is that format.
  const CheckpointStorage& to =
      options.is_savepoint() && options.target ? *options.target : storage_;
  WEIR_ASSIGN_OR_RETURN(auto view, backend_.CreateSnapshotView());
  // Expired values as of the synchronous part stay out of the file.
  view = WithoutExpiredState(std::move(view), backend_.ttl_configs(),
                             backend_.ttl_time_provider()->CurrentTimestamp());
  return std::unique_ptr<AsyncSnapshotPart>(
      new FullAsyncPart(std::move(view), to, checkpoint_id, backend_.backend_id(),
                        backend_.max_parallelism(), backend_.key_group_range()));
}

}  // namespace weir
