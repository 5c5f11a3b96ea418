// The retry schedule: first_backoff * multiplier^(attempt-1), capped at max_backoff. Pure.

#include "gtest/gtest.h"
#include "services/notify/app/dispatcher.h"

namespace notify::app {
namespace {

TEST(RetryDelayTest, GivenDefaults_WhenAttemptsFail_ThenDelaysDoubleFromThirtySeconds) {
  const DispatcherOptions options;
  EXPECT_EQ(RetryDelay(options, 1), absl::Seconds(30));
  EXPECT_EQ(RetryDelay(options, 2), absl::Seconds(60));
  EXPECT_EQ(RetryDelay(options, 3), absl::Seconds(120));
  EXPECT_EQ(RetryDelay(options, 4), absl::Seconds(240));
}

TEST(RetryDelayTest, GivenManyAttempts_WhenDelayWouldExceedMax_ThenCappedAtMaxBackoff) {
  const DispatcherOptions options;
  EXPECT_EQ(RetryDelay(options, 7), absl::Seconds(1920));
  EXPECT_EQ(RetryDelay(options, 8), absl::Hours(1));     // 3840 s, capped
  EXPECT_EQ(RetryDelay(options, 5000), absl::Hours(1));  // 2^4999 overflows a double
}

TEST(RetryDelayTest, GivenOtherMultiplier_WhenAttemptsFail_ThenItIsUsed) {
  DispatcherOptions options;
  options.first_backoff = absl::Seconds(10);
  options.backoff_multiplier = 3.0;
  options.max_backoff = absl::Minutes(10);
  EXPECT_EQ(RetryDelay(options, 1), absl::Seconds(10));
  EXPECT_EQ(RetryDelay(options, 2), absl::Seconds(30));
  EXPECT_EQ(RetryDelay(options, 3), absl::Seconds(90));
  EXPECT_EQ(RetryDelay(options, 5), absl::Minutes(10));  // 810 s, capped
}

}  // namespace
}  // namespace notify::app
