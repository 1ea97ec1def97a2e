#include "rate_limit.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

TEST(TokenBucketTest, ABurstThenTheRate) {
  TokenBucket bucket(10, 3);
  const auto start = TokenBucket::Clock::now();
  EXPECT_TRUE(bucket.Take(start));
  EXPECT_TRUE(bucket.Take(start));
  EXPECT_TRUE(bucket.Take(start));
  EXPECT_FALSE(bucket.Take(start));
  EXPECT_EQ(bucket.UntilNext(start).count(), 100);
  EXPECT_TRUE(bucket.Take(start + std::chrono::milliseconds(100)));
  EXPECT_FALSE(bucket.Take(start + std::chrono::milliseconds(150)));
  EXPECT_TRUE(bucket.Take(start + std::chrono::seconds(10)));
}

}  // namespace
}  // namespace qmin
