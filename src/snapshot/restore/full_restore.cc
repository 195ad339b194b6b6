#include "snapshot/restore/full_restore.h"

#include <algorithm>
#include <future>

#include "snapshot/key_group_stream.h"
#include "snapshot/state_file_verifier.h"

namespace weir {

Status CheckRestoreHandles(const std::vector<KeyedStateHandle>& handles, int max_parallelism,
                           KeyGroupRange range) {
  const KeyGroupRange wanted = range.empty() ? KeyGroupRange::All(max_parallelism) : range;
  std::vector<const KeyedStateHandle*> sorted;
  for (const auto& h : handles) {
    if (h.max_parallelism != max_parallelism) {
      return Status::InvalidArgument(
          "backend " + h.backend_id + " was checkpointed with max parallelism " +
          std::to_string(h.max_parallelism) + ", the restoring backend has " +
          std::to_string(max_parallelism) + " (max parallelism cannot change)");
    }
    if (h.key_group_range.Intersect(wanted).empty()) {
      return Status::InvalidArgument("backend " + h.backend_id + " holds key groups " +
                                     h.key_group_range.ToString() +
                                     ", none of the restoring backend's " + wanted.ToString());
    }
    sorted.push_back(&h);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return a->key_group_range.start < b->key_group_range.start;
  });
  // Walk the range: each handle must start where the previous one's groups (within range) end.
  int next = wanted.start;
  for (const auto* h : sorted) {
    const KeyGroupRange part = h->key_group_range.Intersect(wanted);
    if (part.start < next) {
      return Status::InvalidArgument("backend " + h->backend_id + " holds key group " +
                                     std::to_string(part.start) +
                                     ", which another restored backend holds too");
    }
    if (part.start > next) break;
    next = part.end + 1;
  }
  if (next <= wanted.end) {
    std::string held;
    for (const auto* h : sorted) {
      held += (held.empty() ? "" : ", ") + h->backend_id + " " + h->key_group_range.ToString();
    }
    return Status::InvalidArgument("no restored backend holds key group " + std::to_string(next) +
                                   " of the restoring backend's " + wanted.ToString() + " (" +
                                   (held.empty() ? "none given" : "given: " + held) +
                                   "): its state would be lost");
  }
  return Status::OK();
}

Status ForEachParallel(size_t n, ThreadPool* pool, const std::function<Status(size_t)>& task) {
  if (pool == nullptr) {
    for (size_t i = 0; i < n; ++i) WEIR_RETURN_IF_ERROR(task(i));
    return Status::OK();
  }
  std::vector<std::future<Status>> futures;
  for (size_t i = 0; i < n; ++i) futures.push_back(pool->Submit([&task, i] { return task(i); }));
  Status first;
  for (auto& f : futures) {
    Status s = f.get();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status VerifyHandleFiles(const CheckpointStorage& storage, uint64_t checkpoint_id,
                         const KeyedStateHandle& handle, ThreadPool* pool, Progress* progress,
                         bool checksums) {
  return ForEachParallel(handle.files.size(), pool, [&](size_t i) {
    Status s = VerifyStateFile(storage, checkpoint_id, handle.files[i], checksums);
    if (progress != nullptr) progress->Add(1, handle.files[i].size);
    return s;
  });
}

namespace {

struct OpenStream {
  const KeyedStateHandle* handle;
  std::unique_ptr<KeyGroupStreamReader> reader;
  std::vector<size_t> state_index;  // the stream's state i is the union's state_index[i]
};

Result<OpenStream> OpenFullSnapshot(const CheckpointStorage& storage,
                                    const KeyedStateHandle& handle) {
  if (handle.kind != BackendSnapshotKind::kFull || handle.files.size() != 1 ||
      handle.files[0].role != StateFileRole::kFullSnapshot) {
    return Status::Corruption("backend " + handle.backend_id +
                              ": a full snapshot must consist of exactly one key-group stream");
  }
  const StateFileHandle& file = handle.files[0];
  WEIR_ASSIGN_OR_RETURN(const std::string path, storage.ResolveRelative(file.path));
  WEIR_ASSIGN_OR_RETURN(auto readable, storage.fs().NewReadableFile(path));
  WEIR_ASSIGN_OR_RETURN(auto reader, KeyGroupStreamReader::Open(std::move(readable), file.path));
  const auto& header = reader->header();
  if (header.states != handle.states || header.key_group_range != handle.key_group_range ||
      header.max_parallelism != handle.max_parallelism) {
    return Status::Corruption(file.path + ": header does not match the checkpoint's metadata");
  }
  return OpenStream{&handle, std::move(reader), {}};
}

}  // namespace

Status LoadFullSnapshots(const CheckpointStorage& storage,
                         const std::vector<KeyedStateHandle>& handles,
                         CheckpointableKeyedStateBackend& backend) {
  std::vector<OpenStream> streams;
  std::vector<StateMetaInfo> states;  // the union, in first-seen order
  for (const auto& h : handles) {
    WEIR_ASSIGN_OR_RETURN(OpenStream stream, OpenFullSnapshot(storage, h));
    for (const auto& s : stream.reader->header().states) {
      auto same = std::find_if(states.begin(), states.end(),
                               [&](const StateMetaInfo& u) { return u.name == s.name; });
      if (same == states.end()) {
        states.push_back(s);
        same = states.end() - 1;
      } else if (!(*same == s)) {
        return Status::Corruption("backend " + h.backend_id + " holds state '" + s.name + "' as " +
                                  DescribeState(s) + ", another restored backend as " +
                                  DescribeState(*same));
      }
      stream.state_index.push_back(static_cast<size_t>(same - states.begin()));
    }
    streams.push_back(std::move(stream));
  }
  // Key groups in ascending order whichever handle holds them, as a bulk load expects.
  std::sort(streams.begin(), streams.end(), [](const OpenStream& a, const OpenStream& b) {
    return a.handle->key_group_range.start < b.handle->key_group_range.start;
  });
  WEIR_RETURN_IF_ERROR(backend.RegisterStates(states));
  WEIR_ASSIGN_OR_RETURN(auto loader, backend.NewBulkLoader(states));
  for (const auto& stream : streams) {
    WEIR_RETURN_IF_ERROR(stream.reader->ForEachRow(
        [&](size_t state, int group, std::string_view key, std::string_view value) {
          return loader->Add(stream.state_index[state], group, key, value);
        },
        backend.key_group_range()));
  }
  return loader->Finish();
}

Status RestoreFullSnapshots(const CheckpointStorage& storage, uint64_t checkpoint_id,
                            const std::vector<KeyedStateHandle>& handles,
                            CheckpointableKeyedStateBackend& backend, ThreadPool* pool) {
  const std::string context = "restore of checkpoint " + std::to_string(checkpoint_id);
  WEIR_RETURN_IF_ERROR(
      CheckRestoreHandles(handles, backend.max_parallelism(), backend.key_group_range())
          .WithContext(context));
  for (const auto& h : handles) {
    WEIR_RETURN_IF_ERROR(
        VerifyHandleFiles(storage, checkpoint_id, h, pool, nullptr).WithContext(context));
  }
  return LoadFullSnapshots(storage, handles, backend).WithContext(context);
}

}  // namespace weir
