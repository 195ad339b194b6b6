#include "common/page_aligned.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace weir {

void PageAlignedBuffer::Free::operator()(char* p) const {
  ::operator delete (p, std::align_val_t{kPageBytes});
}

void PageAlignedBuffer::reserve(std::size_t n) {
  if (n <= capacity_) return;
  // Doubling, in whole pages: a batch's file grows chunk by chunk.
  std::size_t grown = std::max(n, capacity_ * 2);
  grown = (grown + kPageBytes - 1) / kPageBytes * kPageBytes;
  std::unique_ptr<char, Free> bigger(
      static_cast<char*>(::operator new (grown, std::align_val_t{kPageBytes})));
  if (size_ > 0) std::memcpy(bigger.get(), bytes_.get(), size_);
  bytes_ = std::move(bigger);
  capacity_ = grown;
}

void PageAlignedBuffer::append(std::string_view s) {
  reserve(size_ + s.size());
  if (!s.empty()) std::memcpy(bytes_.get() + size_, s.data(), s.size());
  size_ += s.size();
}

void PageAlignedBuffer::AppendStreaming(std::string_view s) {
  if (s.empty()) return;
  reserve(size_ + s.size());
  char* to = bytes_.get() + size_;
  const char* from = s.data();
  std::size_t n = s.size();
  size_ += n;
#if defined(__SSE2__)
  // Up to the first 16-byte boundary and after the last one as usual; between them in whole
  // aligned 16-byte stores that do not allocate cache lines.
  const std::size_t head = std::min(n, (16 - reinterpret_cast<std::uintptr_t>(to) % 16) % 16);
  std::memcpy(to, from, head);
  to += head;
  from += head;
  n -= head;
  for (; n >= 64; n -= 64, to += 64, from += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(to), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + 48), d);
  }
#endif
  std::memcpy(to, from, n);
}

void PageAlignedBuffer::Fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace weir
