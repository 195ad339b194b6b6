#include "common/retry.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

RetryOptions Fast() { return RetryOptions{4, 1, 4}; }

TEST(RetryTest, TransientErrorsAreRetriedUntilSuccess) {
  int calls = 0;
  Status s = RetryRetryable(
      "op",
      [&] { return ++calls < 3 ? Status::IOError("flaky", /*retryable=*/true) : Status::OK(); },
      Fast());
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  int calls = 0;
  Status s = RetryRetryable(
      "op",
      [&] {
        ++calls;
        return Status::IOError("down " + std::to_string(calls), true);
      },
      Fast());
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(s.message(), "down 4");
}

TEST(RetryTest, PermanentErrorsAreNotRetried) {
  int calls = 0;
  Status s = RetryRetryable(
      "op",
      [&] {
        ++calls;
        return Status::IOError("no space", /*retryable=*/false);
      },
      Fast());
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(s.ok());
  auto r = RetryRetryableResult<int>(
      "op", [&]() -> Result<int> { return 7; }, Fast());
  EXPECT_EQ(*r, 7);
}

}  // namespace
}  // namespace weir
