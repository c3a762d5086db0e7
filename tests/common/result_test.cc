#include "common/result.h"

#include <gtest/gtest.h>

#include <string>

namespace agentbudget {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) {
    return InvalidArgument(std::to_string(n) + " is odd");
  }
  return n / 2;
}

TEST(ResultTest, HoldsTheValueOnSuccess) {
  auto half = Half(8);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(*half, 4);
}

TEST(ResultTest, HoldsTheErrorOnFailure) {
  auto half = Half(3);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(half.error().ToString(), "invalid_argument: 3 is odd");
}

TEST(ResultTest, StatusIsOkByDefaultAndCarriesAnError) {
  Status ok = OkStatus();
  EXPECT_TRUE(ok.ok());
  Status failed = Unavailable("leader unknown");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
}

TEST(ResultTest, OnlyTransientCodesAreRetryable) {
  EXPECT_TRUE(IsRetryable(ErrorCode::kUnavailable));
  EXPECT_TRUE(IsRetryable(ErrorCode::kDeadlineExceeded));
  EXPECT_TRUE(IsRetryable(ErrorCode::kResourceExhausted));
  EXPECT_FALSE(IsRetryable(ErrorCode::kInvalidArgument));
  EXPECT_FALSE(IsRetryable(ErrorCode::kConflict));
  EXPECT_FALSE(IsRetryable(ErrorCode::kPermissionDenied));
}

}  // namespace
}  // namespace agentbudget
