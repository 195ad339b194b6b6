// Memory that starts on a page boundary, for bytes written around the page cache (O_DIRECT
// takes them where they lie only from an aligned address: FileSystem::WriteDurably).
#pragma once

#include <cstddef>
#include <new>
#include <string>

namespace weir {

inline constexpr std::size_t kPageBytes = 4096;

template <class T>
struct PageAlignedAllocator {
  using value_type = T;
  PageAlignedAllocator() = default;
  template <class U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) {}  // NOLINT: rebinding converts
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kPageBytes}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{kPageBytes}); }
  template <class U>
  bool operator==(const PageAlignedAllocator<U>&) const {
    return true;
  }
};

// A string whose heap bytes start on a page boundary (a short one's may lie in the string
// itself: callers that need the alignment check it).
using PageAlignedString =
    std::basic_string<char, std::char_traits<char>, PageAlignedAllocator<char>>;

}  // namespace weir
