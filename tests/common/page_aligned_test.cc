#include "common/page_aligned.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace weir {
namespace {

std::string Pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) % 251);
  return s;
}

// Both ways of appending hold exactly the bytes appended, in order, whatever the sizes and the
// offsets they start at (the streaming stores have a head, a body and a tail), and the bytes
// start on a page boundary however the buffer grew.
TEST(PageAlignedBufferTest, HoldsTheBytesAppendedOnAPageBoundary) {
  PageAlignedBuffer buffer;
  EXPECT_EQ(buffer.size(), 0u);
  std::string expected;
  size_t seed = 0;
  for (size_t n : {0, 1, 3, 15, 16, 17, 63, 64, 65, 100, 4095, 4096, 4097, 70000, 5, 200000}) {
    for (bool streaming : {false, true}) {
      const std::string piece = Pattern(n, ++seed);
      if (streaming) {
        buffer.AppendStreaming(piece);
      } else {
        buffer.append(piece);
      }
      expected += piece;
    }
  }
  PageAlignedBuffer::Fence();
  ASSERT_EQ(buffer.size(), expected.size());
  EXPECT_TRUE(std::string_view(buffer) == expected);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % kPageBytes, 0u);
  EXPECT_GE(buffer.capacity(), buffer.size());

  // Cleared, it keeps its memory and starts over.
  const size_t capacity = buffer.capacity();
  buffer.clear();
  EXPECT_EQ(buffer.size(), 0u);
  buffer.AppendStreaming("abc");
  PageAlignedBuffer::Fence();
  EXPECT_EQ(std::string_view(buffer), "abc");
  EXPECT_EQ(buffer.capacity(), capacity);
}

}  // namespace
}  // namespace weir
