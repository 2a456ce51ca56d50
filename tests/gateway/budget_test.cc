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
  const StageDeadlines spent = PlanBudget(kNow, kNow - absl::Milliseconds(1), o);
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
  EXPECT_EQ(PlanLookupDeadline(kNow, kNow + absl::Milliseconds(2), o),
            kNow + absl::Microseconds(1500));  // margin 25 % of 2 ms
  EXPECT_EQ(PlanLookupDeadline(kNow, kNow - absl::Milliseconds(2), o), kNow);
  // Independent of the retrieval share (nothing is held back for ranking).
  o.retrieval_share = 0.1;
  EXPECT_EQ(PlanLookupDeadline(kNow, std::nullopt, o), kNow + absl::Milliseconds(45));
}

// The margin is min(--margin, 25 % of the budget): large budgets keep the whole
// margin, small ones a quarter of themselves, a spent one none.
TEST(Budget, MarginIsProportionalForSmallBudgets) {
  BudgetOptions o;  // margin 8 ms, share 25 %
  EXPECT_EQ(EffectiveMargin(absl::Milliseconds(50), o), absl::Milliseconds(8));
  EXPECT_EQ(EffectiveMargin(absl::Milliseconds(32), o), absl::Milliseconds(8));
  EXPECT_EQ(EffectiveMargin(absl::Milliseconds(12), o), absl::Milliseconds(3));
  EXPECT_EQ(EffectiveMargin(absl::Milliseconds(4), o), absl::Milliseconds(1));
  EXPECT_EQ(EffectiveMargin(absl::ZeroDuration(), o), absl::ZeroDuration());
  EXPECT_EQ(EffectiveMargin(absl::Milliseconds(-3), o), absl::ZeroDuration());
  o.margin = absl::Milliseconds(2);
  EXPECT_EQ(EffectiveMargin(absl::Milliseconds(12), o), absl::Milliseconds(2));
}

// A 3-12 ms deadline with the default 8 ms margin still gives retrieval time
// (before, the whole budget went to the margin and every such call fell back
// to trending); from 4 ms on ranking is worth starting too.
TEST(Budget, SmallDeadlinesStillRetrieveAndRank) {
  const BudgetOptions o;
  for (int ms = 3; ms <= 12; ++ms) {
    const StageDeadlines d = PlanBudget(kNow, kNow + absl::Milliseconds(ms), o);
    EXPECT_GT(d.retrieval, kNow) << ms << " ms";
    EXPECT_LT(d.ranking, d.overall) << ms << " ms";
    EXPECT_GT(PlanLookupDeadline(kNow, kNow + absl::Milliseconds(ms), o), kNow) << ms << " ms";
    if (ms >= 4) EXPECT_TRUE(RankingWorthStarting(d.retrieval, d, o)) << ms << " ms";
  }
  const StageDeadlines d8 = PlanBudget(kNow, kNow + absl::Milliseconds(8), o);
  EXPECT_EQ(d8.ranking, kNow + absl::Milliseconds(6));     // margin 2 ms
  EXPECT_EQ(d8.retrieval, kNow + absl::Microseconds(3600));  // 0.6 * 6 ms
}

}  // namespace
}  // namespace recsys::gateway
