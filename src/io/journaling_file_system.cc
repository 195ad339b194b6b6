#include "io/journaling_file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "io/unsynced_data_tracker.h"

namespace weir {
namespace {

class JournalingWritableFile final : public WritableFile {
 public:
  JournalingWritableFile(JournalingFileSystem* fs, std::string path,
                         std::unique_ptr<WritableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    fs_->Record('A', path_, std::to_string(base_->Size() + data.size()));
    return base_->Append(data);
  }
  Status Sync() override {
    WEIR_RETURN_IF_ERROR(base_->Sync());
    fs_->Record('S', path_, std::to_string(base_->Size()));
    return Status::OK();
  }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  JournalingFileSystem* fs_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

Result<std::shared_ptr<JournalingFileSystem>> JournalingFileSystem::Open(
    std::shared_ptr<FileSystem> base, const std::string& journal_path) {
  const int fd = ::open(journal_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open the power-loss journal " + journal_path);
  return std::shared_ptr<JournalingFileSystem>(new JournalingFileSystem(std::move(base), fd));
}

JournalingFileSystem::~JournalingFileSystem() { ::close(fd_); }

void JournalingFileSystem::Record(char kind, const std::string& a, const std::string& b) {
  std::string line(1, kind);
  line += "\t" + a;
  if (!b.empty()) line += "\t" + b;
  line += "\n";
  (void)!::write(fd_, line.data(), line.size());  // one write: whole entries only
}

Result<std::unique_ptr<WritableFile>> JournalingFileSystem::NewWritableFile(
    const std::string& path) {
  Record('C', path);
  WEIR_ASSIGN_OR_RETURN(auto file, base_->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(
      std::make_unique<JournalingWritableFile>(this, path, std::move(file)));
}

Status JournalingFileSystem::Rename(const std::string& from, const std::string& to) {
  Record('R', from, to);
  return base_->Rename(from, to);
}

Status JournalingFileSystem::DeleteFile(const std::string& path) {
  Record('D', path);
  return base_->DeleteFile(path);
}

Status JournalingFileSystem::DeleteRecursively(const std::string& path) {
  Record('D', path);
  return base_->DeleteRecursively(path);
}

Status JournalingFileSystem::SyncDir(const std::string& path) {
  WEIR_RETURN_IF_ERROR(base_->SyncDir(path));
  Record('Y', path);
  return Status::OK();
}

Status JournalingFileSystem::Link(const std::string& from, const std::string& to) {
  Record('C', to);
  return base_->Link(from, to);
}

Status SimulatePowerLoss(const std::string& journal_path, FileSystem& fs) {
  std::ifstream in(journal_path);
  if (!in) return Status::NotFound("power-loss journal " + journal_path + " cannot be read");
  UnsyncedDataTracker tracker;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 3 || line[1] != '\t') continue;  // a torn last line
    const std::string rest = line.substr(2);
    const size_t tab = rest.find('\t');
    const std::string a = rest.substr(0, tab);
    const std::string b = tab == std::string::npos ? std::string() : rest.substr(tab + 1);
    switch (line[0]) {
      case 'C':
        tracker.Created(a);
        break;
      case 'A':
        tracker.Appended(a, std::stoull("0" + b));
        break;
      case 'S':
        tracker.Synced(a, std::stoull("0" + b));
        break;
      case 'R':
        tracker.Renamed(a, b);
        break;
      case 'D':
        tracker.Deleted(a);
        break;
      case 'Y':
        tracker.DirSynced(a);
        break;
      default:
        break;
    }
  }
  return tracker.DropUnsynced(fs);
}

}  // namespace weir
