// Bytes that start on a page boundary: a direct write (O_DIRECT, FileSystem::WriteDurably) takes
// them where they lie, where other bytes are first copied into an aligned buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace weir {

inline constexpr std::size_t kPageBytes = 4096;

// A growing byte buffer, page-aligned (the changelog writer builds each batch's file in one).
// Its bytes can also be appended with stores that go around the CPU's caches
// (AppendStreaming): megabytes written once and handed to the disk would otherwise evict what
// the other threads keep there, and each of their lines is read from memory before it is written.
class PageAlignedBuffer {
 public:
  PageAlignedBuffer() = default;
  PageAlignedBuffer(const PageAlignedBuffer&) = delete;
  PageAlignedBuffer& operator=(const PageAlignedBuffer&) = delete;

  const char* data() const { return bytes_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  operator std::string_view() const { return {bytes_.get(), size_}; }  // NOLINT: a view of it

  void clear() { size_ = 0; }  // keeps the memory
  void reserve(std::size_t n);
  void append(std::string_view s);
  // As append, with non-temporal stores where the CPU has them; the bytes are visible to other
  // threads and devices after Fence().
  void AppendStreaming(std::string_view s);
  static void Fence();

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> bytes_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace weir
