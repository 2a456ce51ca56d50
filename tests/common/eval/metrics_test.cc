#include "common/eval/metrics.h"

#include <cmath>

#include <gtest/gtest.h>

namespace recsys {
namespace {

constexpr double kEps = 1e-12;

// A hit at rank 0/1/2 gives the textbook values; a miss gives zeros.
TEST(Metrics, SingleTargetHandComputed) {
  const std::vector<ItemIndex> ranked = {7, 3, 9, 4};
  const std::vector<ItemIndex> target3 = {9};  // rank0 = 2
  EXPECT_NEAR(RecallAtK(ranked, target3, 3), 1.0, kEps);
  EXPECT_NEAR(NdcgAtK(ranked, target3, 3), 1.0 / std::log2(4.0), kEps);  // 0.5
  EXPECT_NEAR(AveragePrecisionAtK(ranked, target3, 3), 1.0 / 3.0, kEps);
  // Cut off before the hit.
  EXPECT_EQ(RecallAtK(ranked, target3, 2), 0.0);
  EXPECT_EQ(NdcgAtK(ranked, target3, 2), 0.0);
  EXPECT_EQ(AveragePrecisionAtK(ranked, target3, 2), 0.0);
  // Hit at the top.
  const std::vector<ItemIndex> top = {7};
  EXPECT_NEAR(NdcgAtK(ranked, top, 10), 1.0, kEps);
  EXPECT_NEAR(AveragePrecisionAtK(ranked, top, 10), 1.0, kEps);
}

// Two relevant items: hits at ranks 1 and 3 (0-based 0 and 2).
TEST(Metrics, MultipleRelevantHandComputed) {
  const std::vector<ItemIndex> ranked = {1, 2, 3, 4};
  const std::vector<ItemIndex> relevant = {1, 3};
  EXPECT_NEAR(RecallAtK(ranked, relevant, 4), 1.0, kEps);
  EXPECT_NEAR(RecallAtK(ranked, relevant, 2), 0.5, kEps);
  const double dcg = 1.0 + 1.0 / std::log2(4.0);
  const double idcg = 1.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(NdcgAtK(ranked, relevant, 4), dcg / idcg, kEps);
  // AP = (1/1 + 2/3) / 2
  EXPECT_NEAR(AveragePrecisionAtK(ranked, relevant, 4), (1.0 + 2.0 / 3.0) / 2.0, kEps);
}

// Empty lists never divide by zero.
TEST(Metrics, EmptyLists) {
  const std::vector<ItemIndex> none;
  const std::vector<ItemIndex> one = {5};
  EXPECT_EQ(RecallAtK(none, one, 10), 0.0);
  EXPECT_EQ(NdcgAtK(none, one, 10), 0.0);
  EXPECT_EQ(AveragePrecisionAtK(none, one, 10), 0.0);
  EXPECT_EQ(RecallAtK(one, none, 10), 0.0);
  EXPECT_EQ(NdcgAtK(one, none, 10), 0.0);
  EXPECT_EQ(AveragePrecisionAtK(one, none, 10), 0.0);
  EXPECT_EQ(Auc(std::vector<float>{}, std::vector<uint8_t>{}), 0.5);
  MetricAccumulator acc(10, 100);
  EXPECT_EQ(acc.recall(), 0.0);
  EXPECT_EQ(acc.coverage(), 0.0);
}

// AUC: perfect, inverted, and ties counted as one half.
TEST(Metrics, AucWithTies) {
  EXPECT_NEAR(Auc(std::vector<float>{0.9f, 0.8f, 0.1f}, std::vector<uint8_t>{1, 1, 0}), 1.0, kEps);
  EXPECT_NEAR(Auc(std::vector<float>{0.1f, 0.8f, 0.9f}, std::vector<uint8_t>{1, 0, 0}), 0.0, kEps);
  // All tied: 0.5.
  EXPECT_NEAR(Auc(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, std::vector<uint8_t>{1, 0, 1, 0}),
              0.5, kEps);
  // Positive 0.7 beats negatives 0.2 and ties 0.7; positive 0.2 ties 0.2, loses to 0.7.
  // Pairs: (p0.7,n0.2)=1, (p0.7,n0.7)=.5, (p0.2,n0.2)=.5, (p0.2,n0.7)=0 -> 2/4.
  EXPECT_NEAR(Auc(std::vector<float>{0.7f, 0.2f, 0.2f, 0.7f}, std::vector<uint8_t>{1, 1, 0, 0}),
              0.5, kEps);
  // (p0.9 > n0.5, p0.9 > n0.5), (p0.5 = n0.5 twice) -> (1+1+.5+.5)/4 = 0.75
  EXPECT_NEAR(Auc(std::vector<float>{0.9f, 0.5f, 0.5f, 0.5f}, std::vector<uint8_t>{1, 1, 0, 0}),
              0.75, kEps);
}

// The accumulator averages over users and counts distinct recommended items.
TEST(Metrics, AccumulatorAndCoverage) {
  MetricAccumulator acc(2, 10);
  const std::vector<ItemIndex> a = {1, 2, 3};
  const std::vector<ItemIndex> b = {2, 4};
  const std::vector<ItemIndex> t1 = {2};
  const std::vector<ItemIndex> t2 = {9};
  acc.Add(a, t1);  // hit at rank0 1 -> ndcg 1/log2(3), ap 1/2
  acc.Add(b, t2);  // miss
  EXPECT_EQ(acc.users(), 2);
  EXPECT_NEAR(acc.recall(), 0.5, kEps);
  EXPECT_NEAR(acc.ndcg(), 0.5 / std::log2(3.0), kEps);
  EXPECT_NEAR(acc.map(), 0.25, kEps);
  EXPECT_NEAR(acc.coverage(), 3.0 / 10.0, kEps);  // {1,2,4}; 3 is past k
  MetricAccumulator other(2, 10);
  other.Add(std::vector<ItemIndex>{7}, std::vector<ItemIndex>{7});
  acc.Merge(other);
  EXPECT_EQ(acc.users(), 3);
  EXPECT_NEAR(acc.recall(), 2.0 / 3.0, kEps);
  EXPECT_NEAR(acc.coverage(), 0.4, kEps);
}

// The 95% half-width is 1.96 * sample sd / sqrt(n), merged sums included.
TEST(Metrics, ConfidenceIntervalHalfWidth) {
  MetricAccumulator acc(1, 10);
  EXPECT_EQ(acc.recall_ci95(), 0.0);
  const std::vector<ItemIndex> hit = {1}, miss = {2}, target = {1};
  acc.Add(hit, target);
  EXPECT_EQ(acc.recall_ci95(), 0.0);  // one user: no spread to estimate
  MetricAccumulator other(1, 10);
  for (int i = 0; i < 3; ++i) other.Add(miss, target);
  acc.Merge(other);
  // recall values {1,0,0,0}: mean 0.25, sample variance 0.25.
  EXPECT_NEAR(acc.recall_ci95(), 1.96 * std::sqrt(0.25 / 4), kEps);
  EXPECT_NEAR(acc.ndcg_ci95(), acc.recall_ci95(), kEps);  // k = 1: ndcg = hit
  EXPECT_NEAR(acc.map_ci95(), acc.recall_ci95(), kEps);
  MetricAccumulator same(1, 10);
  for (int i = 0; i < 5; ++i) same.Add(hit, target);
  EXPECT_NEAR(same.recall_ci95(), 0.0, kEps);
}

}  // namespace
}  // namespace recsys
