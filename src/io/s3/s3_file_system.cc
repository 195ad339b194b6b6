#include "io/s3/s3_file_system.h"

#include <algorithm>
#include <deque>
#include <future>

#include "common/log.h"
#include "common/thread_pool.h"

namespace weir::s3 {
namespace {

constexpr size_t kParallelReadChunk = 4 << 20;
constexpr size_t kMaxPartsInFlight = 4;  // per file: memory = this x part size

std::string DirPrefix(const std::string& key) {
  return key.empty() || key.back() == '/' ? key : key + "/";
}

class S3ReadableFile final : public ReadableFile {
 public:
  S3ReadableFile(std::shared_ptr<S3Client> client, ThreadPool& pool, std::string bucket,
                 std::string key, uint64_t size)
      : client_(std::move(client)),
        pool_(pool),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        size_(size) {}

  Status ReadAt(uint64_t offset, size_t n, std::string* out) const override {
    out->clear();
    if (offset >= size_) return Status::OK();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    if (n < 2 * kParallelReadChunk) return client_->GetRange(bucket_, key_, offset, n, out);
    // Several ranges at once: one connection rarely fills the link to an object store.
    std::vector<std::future<Result<std::string>>> parts;
    for (size_t done = 0; done < n; done += kParallelReadChunk) {
      const size_t len = std::min(kParallelReadChunk, n - done);
      parts.push_back(pool_.Submit([this, at = offset + done, len]() -> Result<std::string> {
        std::string part;
        WEIR_RETURN_IF_ERROR(client_->GetRange(bucket_, key_, at, len, &part));
        return part;
      }));
    }
    Status first;
    for (auto& f : parts) {
      Result<std::string> part = f.get();
      if (!part.ok()) {
        if (first.ok()) first = part.status();
        continue;
      }
      out->append(*part);
    }
    return first;
  }
  uint64_t Size() const override { return size_; }

 private:
  std::shared_ptr<S3Client> client_;
  ThreadPool& pool_;
  std::string bucket_;
  std::string key_;
  uint64_t size_;
};

class S3WritableFile final : public WritableFile {
 public:
  S3WritableFile(std::shared_ptr<S3Client> client, ThreadPool& pool, std::string bucket,
                 std::string key)
      : client_(std::move(client)),
        pool_(pool),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        part_size_(client_->options().part_size) {}

  ~S3WritableFile() override {
    if (!closed_) Abandon();
  }

  Status Append(std::string_view data) override {
    if (closed_) return Status::FailedPrecondition("s3://" + bucket_ + "/" + key_ + " is closed");
    buffer_.append(data);
    size_ += data.size();
    while (buffer_.size() >= part_size_) {
      WEIR_RETURN_IF_ERROR(SendPart(buffer_.substr(0, part_size_)));
      buffer_.erase(0, part_size_);
    }
    return Status::OK();
  }

  // An object is durable once its PUT (or the multipart completion) is acknowledged, which
  // Close() waits for; nothing to do before.
  Status Sync() override { return Status::OK(); }

  Status Close() override {
    if (closed_) return Status::OK();
    closed_ = true;
    Status s = Finish();
    if (!s.ok() && !upload_id_.empty()) Abandon();
    return s;
  }

  uint64_t Size() const override { return size_; }

 private:
  Status Finish() {
    if (upload_id_.empty()) return client_->PutObject(bucket_, key_, buffer_);
    if (!buffer_.empty()) WEIR_RETURN_IF_ERROR(SendPart(std::move(buffer_)));
    while (!in_flight_.empty()) WEIR_RETURN_IF_ERROR(WaitOldest());
    WEIR_RETURN_IF_ERROR(client_->CompleteMultipartUpload(bucket_, key_, upload_id_, etags_));
    upload_id_.clear();
    return Status::OK();
  }

  Status SendPart(std::string data) {
    if (upload_id_.empty()) {
      WEIR_ASSIGN_OR_RETURN(upload_id_, client_->CreateMultipartUpload(bucket_, key_));
    }
    while (in_flight_.size() >= kMaxPartsInFlight) WEIR_RETURN_IF_ERROR(WaitOldest());
    const int number = next_part_++;
    etags_.emplace_back();
    in_flight_.push_back(pool_.Submit(
        [client = client_, bucket = bucket_, key = key_, id = upload_id_, number,
         data = std::move(data)]() { return client->UploadPart(bucket, key, id, number, data); }));
    return Status::OK();
  }

  Status WaitOldest() {
    Result<std::string> etag = in_flight_.front().get();
    in_flight_.pop_front();
    if (!etag.ok()) return etag.status();
    etags_[static_cast<size_t>(done_parts_++)] = *etag;
    return Status::OK();
  }

  // No parts may linger: wait for the uploads in flight, then abort the multipart upload.
  void Abandon() {
    for (auto& f : in_flight_) (void)f.get();
    in_flight_.clear();
    if (upload_id_.empty()) return;
    Status s = client_->AbortMultipartUpload(bucket_, key_, upload_id_);
    if (!s.ok()) LogWarn("abandoned multipart upload not aborted: " + s.message());
    upload_id_.clear();
  }

  std::shared_ptr<S3Client> client_;
  ThreadPool& pool_;
  std::string bucket_;
  std::string key_;
  const uint64_t part_size_;
  std::string buffer_;
  uint64_t size_ = 0;
  bool closed_ = false;
  std::string upload_id_;
  int next_part_ = 1;
  int done_parts_ = 0;
  std::vector<std::string> etags_;
  std::deque<std::future<Result<std::string>>> in_flight_;
};

class S3FileSystem final : public FileSystem {
 public:
  bool HasSymbolicLinks() const override { return false; }
  explicit S3FileSystem(std::shared_ptr<S3Client> client)
      : client_(std::move(client)),
        pool_(std::max(4, client_->options().max_connections), "weir-s3") {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    return std::unique_ptr<WritableFile>(
        std::make_unique<S3WritableFile>(client_, pool_, bk.first, bk.second));
  }

  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    WEIR_ASSIGN_OR_RETURN(ListedObject o, client_->HeadObject(bk.first, bk.second));
    return std::unique_ptr<ReadableFile>(
        std::make_unique<S3ReadableFile>(client_, pool_, bk.first, bk.second, o.size));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    WEIR_ASSIGN_OR_RETURN(auto f, ParseS3Path(from));
    WEIR_ASSIGN_OR_RETURN(auto t, ParseS3Path(to));
    if (f.first != t.first) {
      return Status::NotSupported("rename across S3 buckets: " + from + " to " + to);
    }
    WEIR_RETURN_IF_ERROR(client_->CopyObject(f.first, f.second, t.second));
    return client_->DeleteObject(f.first, f.second);
  }

  Status DeleteFile(const std::string& path) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    return client_->DeleteObject(bk.first, bk.second);
  }

  Status DeleteRecursively(const std::string& path) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    const std::string prefix = DirPrefix(bk.second);
    WEIR_ASSIGN_OR_RETURN(ListResult listed, client_->List(bk.first, prefix, ""));
    std::vector<std::string> keys;
    for (const auto& o : listed.objects) keys.push_back(o.key);
    WEIR_RETURN_IF_ERROR(client_->DeleteObjects(bk.first, keys));
    // Parts of uploads a crashed writer left behind.
    auto uploads = client_->ListMultipartUploads(bk.first, prefix);
    if (uploads.ok()) {
      for (const auto& [key, id] : *uploads) {
        WEIR_RETURN_IF_ERROR(client_->AbortMultipartUpload(bk.first, key, id));
      }
    }
    return Status::OK();
  }

  Status CreateDirs(const std::string& path) override { return ParseS3Path(path).status(); }
  Status SyncDir(const std::string& path) override { return ParseS3Path(path).status(); }

  Result<FileStatus> Stat(const std::string& path) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    FileStatus st;
    if (!bk.second.empty() && bk.second.back() != '/') {
      auto o = client_->HeadObject(bk.first, bk.second);
      if (o.ok()) {
        st.size = o->size;
        st.modified_unix_ms = o->modified_unix_ms;
        return st;
      }
      if (o.status().code() != StatusCode::kNotFound) return o.status();
    }
    st.is_directory = true;
    if (bk.second.empty()) return st;  // the bucket
    WEIR_ASSIGN_OR_RETURN(ListResult below, client_->List(bk.first, DirPrefix(bk.second), "/", 1));
    if (below.objects.empty() && below.common_prefixes.empty()) {
      return Status::NotFound(path + " does not exist");
    }
    return st;
  }

  Result<std::vector<DirectoryEntry>> ListDir(const std::string& path) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    const std::string prefix = DirPrefix(bk.second);
    WEIR_ASSIGN_OR_RETURN(ListResult listed, client_->List(bk.first, prefix, "/"));
    std::vector<DirectoryEntry> out;
    for (const auto& o : listed.objects) {
      if (o.key.size() > prefix.size()) out.push_back({o.key.substr(prefix.size()), false});
    }
    for (const auto& p : listed.common_prefixes) {
      std::string name = p.substr(prefix.size());
      if (!name.empty() && name.back() == '/') name.pop_back();
      out.push_back({name, true});
    }
    // An empty prefix lists as an empty directory (CreateDirs writes nothing); Stat tells
    // whether anything is there.
    std::sort(out.begin(), out.end(),
              [](const DirectoryEntry& a, const DirectoryEntry& b) { return a.name < b.name; });
    return out;
  }

  Status Link(const std::string& from, const std::string&) override {
    return Status::NotSupported("S3 has no links: " + from);
  }

  Status PublishAtomically(const std::string& path, std::string_view data) override {
    WEIR_ASSIGN_OR_RETURN(auto bk, ParseS3Path(path));
    return client_->PutObject(bk.first, bk.second, data);
  }

 private:
  std::shared_ptr<S3Client> client_;
  ThreadPool pool_;  // parallel parts and ranges
};

}  // namespace

std::shared_ptr<FileSystem> NewS3FileSystem(std::shared_ptr<S3Client> client) {
  return std::make_shared<S3FileSystem>(std::move(client));
}

Result<std::shared_ptr<FileSystem>> S3FileSystemFor(const std::string& path,
                                                    const Configuration& config) {
  WEIR_RETURN_IF_ERROR(ParseS3Path(path).status());
  WEIR_ASSIGN_OR_RETURN(S3Options options, S3OptionsFromConfig(config));
  return NewS3FileSystem(std::make_shared<S3Client>(std::move(options)));
}

}  // namespace weir::s3
