#include "common/checksum.h"

#include <gtest/gtest.h>

#include "weir/status.h"

namespace weir {
namespace {

TEST(ChecksumTest, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 31));
  StreamingChecksum c;
  for (size_t i = 0; i < data.size(); i += 777) c.Update(std::string_view(data).substr(i, 777));
  EXPECT_EQ(c.Digest(), Hash64(data));
}

TEST(ChecksumTest, StableAcrossReleases) {
  // XXH3-64 with seed 0 is a published, frozen function: these values must never change, or
  // every stored checksum and every key-group assignment would.
  EXPECT_EQ(Hash64(""), 0x2D06800538D394C2ULL);
  EXPECT_EQ(FormatChecksum(0xabc), "xxh3:0000000000000abc");
}

TEST(StatusTest, CarriesCodeMessageAndContext) {
  const Status s = Status::IOError("disk gone", /*retryable=*/true).WithContext("chk-3/x");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.ToString(), "IO error: chk-3/x: disk gone");
  Result<int> r = Status::NotFound("nope");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  Result<int> v = 7;
  EXPECT_EQ(*v, 7);
}

}  // namespace
}  // namespace weir
