#include "common/coding.h"

#include <gtest/gtest.h>

#include <limits>

namespace weir {
namespace {

TEST(CodingTest, FixedAndVarintRoundTrip) {
  const uint64_t values[] = {0, 1, 127, 128, 300, 1ULL << 32, std::numeric_limits<uint64_t>::max()};
  std::string buf;
  for (uint64_t v : values) {
    PutVarint64(&buf, v);
    PutFixed64(&buf, v);
    PutFixed32(&buf, static_cast<uint32_t>(v));
  }
  std::string_view in = buf;
  for (uint64_t v : values) {
    uint64_t a = 0, b = 0;
    uint32_t c = 0;
    ASSERT_TRUE(GetVarint64(&in, &a));
    ASSERT_TRUE(GetFixed64(&in, &b));
    ASSERT_TRUE(GetFixed32(&in, &c));
    EXPECT_EQ(a, v);
    EXPECT_EQ(b, v);
    EXPECT_EQ(c, static_cast<uint32_t>(v));
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, TruncatedInputIsRejected) {
  std::string buf;
  PutVarint64(&buf, 1ULL << 40);
  std::string_view in(buf.data(), buf.size() - 1);
  uint64_t v = 0;
  EXPECT_FALSE(GetVarint64(&in, &v));

  std::string s;
  PutLengthPrefixed(&s, "hello");
  std::string_view short_in(s.data(), s.size() - 1);
  std::string_view out;
  EXPECT_FALSE(GetLengthPrefixed(&short_in, &out));

  std::string_view four = "abc";
  uint32_t f = 0;
  EXPECT_FALSE(GetFixed32(&four, &f));
}

TEST(CodingTest, Varint32RejectsWideValues) {
  std::string buf;
  PutVarint64(&buf, 1ULL << 33);
  std::string_view in = buf;
  uint32_t v = 0;
  EXPECT_FALSE(GetVarint32(&in, &v));
}

TEST(CodingTest, BigEndianPreservesOrder) {
  std::string a, b;
  PutBigEndian64(&a, 255);
  PutBigEndian64(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(DecodeBigEndian64(b.data()), 256u);
}

}  // namespace
}  // namespace weir
