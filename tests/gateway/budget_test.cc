#include "gateway/budget.h"

#include <gtest/gtest.h>


namespace recsys::gateway {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// No caller deadline: the default applies; retrieval gets its share of the
// usable time and ranking runs until the margin.
TEST(Budget, DefaultDeadlineSplit) {
  BudgetOptions o;
  o.default_deadline = absl::Milliseconds(50);
  o.margin = absl::Milliseconds(5);
  o.retrieval_share = 0.6;
  const StageDeadlines d = PlanBudget(kNow, std::nullopt, o);
  EXPECT_EQ(d.overall, kNow + absl::Milliseconds(50));
  EXPECT_EQ(d.retrieval, kNow + absl::Milliseconds(27));  // 0.6 * 45 ms
  EXPECT_EQ(d.ranking, kNow + absl::Milliseconds(45));
  EXPECT_TRUE(RankingWorthStarting(kNow + absl::Milliseconds(27), d, o));
  EXPECT_FALSE(RankingWorthStarting(kNow + absl::Milliseconds(44.5), d, o));
}

// The caller's deadline wins, capped by max_deadline; an already-spent budget
// gives zero-length stages, never negative ones.
TEST(Budget, CallerDeadlineAndCaps) {
  BudgetOptions o;
  o.max_deadline = absl::Seconds(1);
  EXPECT_EQ(PlanBudget(kNow, kNow + absl::Milliseconds(200), o).overall,
            kNow + absl::Milliseconds(200));
  EXPECT_EQ(PlanBudget(kNow, kNow + absl::Hours(1), o).overall, kNow + absl::Seconds(1));
  const StageDeadlines spent = PlanBudget(kNow, kNow + absl::Milliseconds(1), o);
  EXPECT_EQ(spent.retrieval, kNow);
  EXPECT_GE(spent.ranking, spent.retrieval);
  EXPECT_FALSE(RankingWorthStarting(kNow, spent, o));
}

// gRPC reports "no deadline" as a far-future time: that is no caller deadline.
TEST(Budget, CallerDeadlineTreatsInfiniteAsNone) {
  EXPECT_EQ(CallerDeadline(kNow + absl::Seconds(2), kNow), kNow + absl::Seconds(2));
  EXPECT_EQ(CallerDeadline(kNow - absl::Seconds(1), kNow), kNow - absl::Seconds(1));
  EXPECT_EQ(CallerDeadline(kNow + absl::Hours(24 * 400), kNow), std::nullopt);
  EXPECT_EQ(CallerDeadline(absl::InfiniteFuture(), kNow), std::nullopt);
}

// Search / SimilarItems: the whole budget minus the margin (no ranking share),
// from the caller's deadline or the default; never before now.
TEST(Budget, LookupDeadline) {
  BudgetOptions o;
  o.default_deadline = absl::Milliseconds(50);
  o.margin = absl::Milliseconds(5);
  o.max_deadline = absl::Seconds(1);
  EXPECT_EQ(PlanLookupDeadline(kNow, std::nullopt, o), kNow + absl::Milliseconds(45));
  EXPECT_EQ(PlanLookupDeadline(kNow, kNow + absl::Milliseconds(200), o),
            kNow + absl::Milliseconds(195));
  EXPECT_EQ(PlanLookupDeadline(kNow, kNow + absl::Hours(1), o), kNow + absl::Milliseconds(995));
  EXPECT_EQ(PlanLookupDeadline(kNow, kNow + absl::Milliseconds(2), o), kNow);
  // Independent of the retrieval share (nothing is held back for ranking).
  o.retrieval_share = 0.1;
  EXPECT_EQ(PlanLookupDeadline(kNow, std::nullopt, o), kNow + absl::Milliseconds(45));
}

}  // namespace
}  // namespace recsys::gateway
