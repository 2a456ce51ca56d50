#include "common/server/access_log.h"

#include <gtest/gtest.h>

namespace recsys {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(TokenBucket, StartsFullAndRefillsAtTheRate) {
  TokenBucket b(/*rate=*/2, /*burst=*/3);
  EXPECT_TRUE(b.TryTake(kT0));
  EXPECT_TRUE(b.TryTake(kT0));
  EXPECT_TRUE(b.TryTake(kT0));
  EXPECT_FALSE(b.TryTake(kT0));
  EXPECT_FALSE(b.TryTake(kT0 + absl::Milliseconds(400)));  // 0.8 tokens
  EXPECT_TRUE(b.TryTake(kT0 + absl::Milliseconds(500)));   // 1.0
  EXPECT_FALSE(b.TryTake(kT0 + absl::Milliseconds(500)));
  // Never more than the burst, however long it idles.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.TryTake(kT0 + absl::Hours(1)));
  EXPECT_FALSE(b.TryTake(kT0 + absl::Hours(1)));
}

TEST(TokenBucket, ZeroRateAdmitsNothingAndTimeGoingBackAddsNothing) {
  TokenBucket zero(0, 1);
  EXPECT_FALSE(zero.TryTake(kT0));
  TokenBucket b(1, 1);
  EXPECT_TRUE(b.TryTake(kT0 + absl::Seconds(10)));
  EXPECT_FALSE(b.TryTake(kT0));
  EXPECT_FALSE(b.TryTake(kT0 + absl::Seconds(10)));
}

TEST(AccessLogLimiter, SeparateBudgetsAndSuppressedSummary) {
  AccessLogOptions o;
  o.ok_per_second = 1;
  o.notable_per_second = 2;
  o.summary_interval = absl::Seconds(10);
  AccessLogLimiter limiter(o);
  int64_t report = -1;
  EXPECT_TRUE(limiter.Admit(false, kT0, &report));
  EXPECT_EQ(report, 0);
  // Successes over budget do not eat the error budget.
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limiter.Admit(false, kT0, &report));
  EXPECT_TRUE(limiter.Admit(true, kT0, &report));
  EXPECT_EQ(report, 50);  // the first admitted line after suppression reports
  EXPECT_TRUE(limiter.Admit(true, kT0, &report));
  EXPECT_EQ(report, 0);
  EXPECT_FALSE(limiter.Admit(true, kT0, &report));
  EXPECT_EQ(limiter.suppressed_total(), 51);
  // The next summary waits for the interval.
  EXPECT_TRUE(limiter.Admit(false, kT0 + absl::Seconds(1), &report));
  EXPECT_EQ(report, 0);
  EXPECT_TRUE(limiter.Admit(false, kT0 + absl::Seconds(10), &report));
  EXPECT_EQ(report, 1);
}

TEST(AccessLogLimiter, ZeroRateTurnsAKindOff) {
  AccessLogOptions o;
  o.ok_per_second = 0;
  o.notable_per_second = 5;
  AccessLogLimiter limiter(o);
  int64_t report = 0;
  EXPECT_FALSE(limiter.Admit(false, kT0, &report));
  EXPECT_TRUE(limiter.Admit(true, kT0, &report));
}

}  // namespace
}  // namespace recsys
