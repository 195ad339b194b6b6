// Local POSIX FileSystem. Durability comes from explicit fsync of files (Sync) and directories
// (SyncDir); nothing here syncs behind the caller's back.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "io/file_system.h"

namespace weir {
namespace {

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string msg = path + ": " + what + " failed: " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(std::move(msg));
  if (err == EEXIST) return Status::AlreadyExists(std::move(msg));
  const bool retryable = err == EINTR || err == EAGAIN || err == EBUSY;
  return Status::IOError(std::move(msg), retryable);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      // A regular file never answers 0 for bytes to write; whatever does would loop forever.
      if (n == 0) return ErrnoStatus("write (no progress)", path_, EIO);
      data.remove_prefix(static_cast<size_t>(n));
      size_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fsync", path_, errno);
    return Status::OK();
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return ErrnoStatus("close", path_, errno);
    return Status::OK();
  }

  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_ = 0;
};

// Files at least this large are written around the page cache (WriteDurably).
constexpr size_t kDirectWriteMinBytes = 64 << 10;
constexpr size_t kDirectAlignment = 4096;

// An aligned buffer of at least `bytes` for this thread's next direct write. Kept from write to
// write, up to kMaxKeptDirectBuffer: a fresh one of megabytes per file cost the changelog
// writer a third of its CPU in page faults, zeroing and unmapping. Larger ones are this write's
// only. (The changelog writer's threads are the callers.)
constexpr size_t kMaxKeptDirectBuffer = 64 << 20;
struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<char, FreeDeleter>;
char* AllocateAligned(size_t bytes) {
  return static_cast<char*>(std::aligned_alloc(kDirectAlignment, bytes));
}
// `*owned` holds a buffer larger than the kept one's bound.
char* DirectWriteBuffer(size_t bytes, AlignedBytes* owned) {
  thread_local AlignedBytes kept;
  thread_local size_t kept_size = 0;
  if (bytes > kMaxKeptDirectBuffer) {
    owned->reset(AllocateAligned(bytes));
    return owned->get();
  }
  if (bytes > kept_size) {
    kept.reset();
    kept_size = 0;
    kept.reset(AllocateAligned(bytes));
    if (kept) kept_size = bytes;
  }
  return kept.get();
}

// pwrite of all `n` bytes at `offset`.
Status WriteAllAt(int fd, const std::string& path, const char* from, size_t n, size_t offset) {
  for (size_t done = 0; done < n;) {
    const ssize_t w = ::pwrite(fd, from + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL) return Status::NotSupported(path + ": O_DIRECT write refused");
      return ErrnoStatus("write", path, errno);
    }
    if (w == 0) return ErrnoStatus("write (no progress)", path, EIO);
    done += static_cast<size_t>(w);
  }
  return Status::OK();
}

// Writes `data` to `path` with O_DIRECT, padded to whole blocks, then cut to its size and
// synced. Data at an aligned address (the changelog writer's batches, PageAlignedBuffer; not
// ordinary heap memory: jemalloc offsets large allocations within their first page) is written
// where it lies but for its last partial block; other data from an aligned copy. NotSupported
// when the file system refuses O_DIRECT or its alignment (tmpfs, some network file systems): the
// caller writes through the page cache instead.
Status WriteDirect(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, mode);
  if (fd < 0) {
    if (errno == EINVAL) return Status::NotSupported(path + ": O_DIRECT refused");
    return ErrnoStatus("create", path, errno);
  }
  PosixWritableFile file(path, fd);  // closes it on every path
  const bool in_place = reinterpret_cast<uintptr_t>(data.data()) % kDirectAlignment == 0;
  // What is written from the caller's memory, and what from the aligned copy after it.
  const size_t direct = in_place ? data.size() / kDirectAlignment * kDirectAlignment : 0;
  const std::string_view rest = data.substr(direct);
  const size_t padded = (rest.size() + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment;
  WEIR_RETURN_IF_ERROR(WriteAllAt(fd, path, data.data(), direct, 0));
  if (padded > 0) {
    AlignedBytes owned;
    char* buffer = DirectWriteBuffer(padded, &owned);
    if (buffer == nullptr) return Status::NotSupported(path + ": no aligned buffer");
    std::memcpy(buffer, rest.data(), rest.size());
    std::memset(buffer + rest.size(), 0, padded - rest.size());
    WEIR_RETURN_IF_ERROR(WriteAllAt(fd, path, buffer, padded, direct));
  }
  if (::ftruncate(fd, static_cast<off_t>(data.size())) != 0) {
    return ErrnoStatus("truncate", path, errno);
  }
  WEIR_RETURN_IF_ERROR(file.Sync());
  return file.Close();
}

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixReadableFile() override { ::close(fd_); }

  Status ReadAt(uint64_t offset, size_t n, std::string* out) const override {
    // Never past the size at open: callers ask for chunks of megabytes, and resize zero-fills
    // (and faults in) all of it, which for the many small files of a checkpoint cost more CPU
    // than the reading (a third of a loaded worker's CPU went to this memset).
    n = static_cast<size_t>(std::min<uint64_t>(n, offset < size_ ? size_ - offset : 0));
    out->resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t r =
          ::pread(fd_, out->data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    out->resize(done);
    return Status::OK();
  }

  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixFileSystem final : public FileSystem {
 public:
  explicit PosixFileSystem(PosixOptions options) : options_(options) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          options_.owner_only ? 0600 : 0644);
    if (fd < 0) return ErrnoStatus("create", path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }

  Status WriteDurably(const std::string& path, std::string_view data) override {
    if (data.size() >= kDirectWriteMinBytes) {
      Status direct = WriteDirect(path, data, options_.owner_only ? 0600 : 0644);
      if (direct.code() != StatusCode::kNotSupported) return direct;
    }
    return FileSystem::WriteDurably(path, data);
  }

  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    // O_NONBLOCK: opening a FIFO planted where a file should be must not hang the reader.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus("stat", path, err);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument(path + ": is a directory, not a file");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument(path + ": is not a regular file (a FIFO, socket or device)");
    }
    return std::unique_ptr<ReadableFile>(
        new PosixReadableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename to " + to, from, errno);
    return Status::OK();
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("delete", path, errno);
    return Status::OK();
  }

  Status DeleteRecursively(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Status::IOError(path + ": delete failed: " + ec.message());
    return Status::OK();
  }

  Status CreateDirs(const std::string& path) override {
    // Component by component, so that every directory created gets the configured mode.
    const mode_t mode = options_.owner_only ? 0700 : 0755;
    std::string prefix;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      prefix = path.substr(0, pos);
      if (prefix.empty()) continue;
      if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
        return ErrnoStatus("mkdir", prefix, errno);
      }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::IOError(path + ": mkdir failed: exists and is not a directory");
    }
    return Status::OK();
  }

  Status SyncDir(const std::string& path) override {
    const int fd = ::open(path.empty() ? "." : path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open directory", path, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("fsync directory", path, err);
    return Status::OK();
  }

  Result<FileStatus> Stat(const std::string& path) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
    FileStatus out;
    out.is_symlink = S_ISLNK(st.st_mode);
    if (out.is_symlink && ::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
    out.is_directory = S_ISDIR(st.st_mode);
    out.is_other = !out.is_directory && !S_ISREG(st.st_mode);
    out.size = static_cast<uint64_t>(st.st_size);
    out.modified_unix_ms =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    return out;
  }

  Result<std::vector<DirectoryEntry>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return ErrnoStatus("list", path, errno);
    std::vector<DirectoryEntry> entries;
    while (dirent* e = ::readdir(dir)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st {};
        is_dir = ::stat(JoinPath(path, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      entries.push_back({name, is_dir});
    }
    ::closedir(dir);
    return entries;
  }

  Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0)
      return ErrnoStatus("hard link to " + to, from, errno);
    return Status::OK();
  }

 private:
  PosixOptions options_;
};

}  // namespace

std::shared_ptr<FileSystem> NewPosixFileSystem(PosixOptions options) {
  return std::make_shared<PosixFileSystem>(options);
}

}  // namespace weir
