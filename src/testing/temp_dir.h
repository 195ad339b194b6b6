// A fresh directory under $TMPDIR (or /tmp) for one test, removed with everything in it when the
// object goes away.
#pragma once

#include <string>

namespace weir::testing {

class TempDir {
 public:
  TempDir();
  // In memory (/dev/shm) where the machine has it: for tests that fsync thousands of times and
  // test bookkeeping, not durability.
  static TempDir InMemory();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit TempDir(const std::string& base);
  std::string path_;
};

}  // namespace weir::testing
