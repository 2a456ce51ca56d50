#include "common/eval/list_metrics.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/eval/metrics.h"

namespace recsys {
namespace {

constexpr double kEps = 1e-9;

// Four items in 2-d: 0 and 1 identical, 2 orthogonal to them, 3 opposite to
// 0; item 4 has no embedding (zero row).
const std::vector<float> kEmbeddings = {1, 0, 1, 0, 0, 1, -1, 0, 0, 0};

// Identical items are not diverse at all.
TEST(ListMetrics, DiversityOfIdenticalItemsIsZero) {
  const ListQuality q(kEmbeddings, 2, {}, 0);
  EXPECT_NEAR(*q.Diversity(std::vector<ItemIndex>{0, 1}), 0.0, kEps);
  EXPECT_NEAR(*q.Diversity(std::vector<ItemIndex>{0, 0, 0}), 0.0, kEps);
}

// Pairs 0-2 (orthogonal, distance 1), 0-3 (opposite, 2), 2-3 (orthogonal, 1):
// mean 4/3. A scaled row is the same direction.
TEST(ListMetrics, DiversityIsTheMeanPairwiseCosineDistance) {
  const ListQuality q(kEmbeddings, 2, {}, 0);
  EXPECT_NEAR(*q.Diversity(std::vector<ItemIndex>{0, 2, 3}), 4.0 / 3.0, kEps);
  const std::vector<float> scaled = {3, 0, 0, 0.5f};
  EXPECT_NEAR(*ListQuality(scaled, 2, {}, 0).Diversity(std::vector<ItemIndex>{0, 1}), 1.0, kEps);
}

// An item without an embedding (zero row, or beyond the table) leaves its
// pairs out; a list with no pair left has no diversity.
TEST(ListMetrics, DiversitySkipsItemsWithoutEmbedding) {
  const ListQuality q(kEmbeddings, 2, {}, 0);
  EXPECT_NEAR(*q.Diversity(std::vector<ItemIndex>{0, 4, 2, 99}), 1.0, kEps);
  EXPECT_FALSE(q.Diversity(std::vector<ItemIndex>{0, 4}).has_value());
  EXPECT_FALSE(q.Diversity(std::vector<ItemIndex>{2}).has_value());
  EXPECT_FALSE(ListQuality({}, 0, {}, 0).Diversity(std::vector<ItemIndex>{0, 2}).has_value());
}

// Counts 8, 4, 2, 2, 0 of 16 events: -log2 p = 1, 2, 3, 3 bits; the unseen
// item counts as seen once (4 bits).
TEST(ListMetrics, NoveltyOfAKnownDistribution) {
  const std::vector<float> counts = {8, 4, 2, 2, 0};
  const ListQuality q({}, 0, counts, PopularityTotal(counts));
  EXPECT_NEAR(q.SelfInformation(0), 1.0, kEps);
  EXPECT_NEAR(q.SelfInformation(1), 2.0, kEps);
  EXPECT_NEAR(q.SelfInformation(4), 4.0, kEps);
  EXPECT_NEAR(q.SelfInformation(1000), 4.0, kEps);  // not in the table: unseen
  EXPECT_NEAR(*q.Novelty(std::vector<ItemIndex>{0, 1, 2, 3}), (1 + 2 + 3 + 3) / 4.0, kEps);
  EXPECT_FALSE(q.Novelty(std::vector<ItemIndex>{}).has_value());
  EXPECT_FALSE(ListQuality().Novelty(std::vector<ItemIndex>{0}).has_value());
}

// Equal exposure gives 0, everything on one of n items (n-1)/n, and the
// zeros of never-recommended items count.
TEST(ListMetrics, GiniHandComputed) {
  EXPECT_NEAR(GiniCoefficient(std::vector<double>{3, 3, 3, 3}, 4), 0.0, kEps);
  EXPECT_NEAR(GiniCoefficient(std::vector<double>{7}, 5), 4.0 / 5.0, kEps);
  EXPECT_NEAR(GiniCoefficient(std::vector<double>{7}, 1), 0.0, kEps);
  // 1, 2, 3 over 4 items (one zero): sum |xi - xj| over ordered pairs = 20,
  // 2 n^2 mean = 2 * 16 * 1.5 = 48.
  EXPECT_NEAR(GiniCoefficient(std::vector<double>{3, 1, 2}, 4), 20.0 / 48.0, kEps);
  EXPECT_EQ(GiniCoefficient(std::vector<double>{}, 10), 0.0);
  std::vector<std::pair<double, double>> groups = {{2, 3}, {0, 1}};  // 2, 2, 2, 0
  EXPECT_NEAR(GiniOfGroups(&groups), 12.0 / (2 * 16 * 1.5), kEps);
}

// The accumulator's beyond-accuracy figures over two lists of a 10-item
// catalogue: exposure 2, 1, 1 on items 0, 1, 2 and zeros elsewhere.
TEST(ListMetrics, AccumulatorAveragesOverLists) {
  const std::vector<float> counts = {8, 4, 2, 2, 0};
  const ListQuality q(kEmbeddings, 2, counts, PopularityTotal(counts));
  MetricAccumulator acc(2, 10, &q);
  const ItemIndex rel[1] = {9};
  acc.Add(std::vector<ItemIndex>{0, 1, 3}, rel);  // top-2 {0, 1}: diversity 0, novelty 1.5
  MetricAccumulator other(2, 10, &q);
  other.Add(std::vector<ItemIndex>{0, 2}, rel);  // diversity 1, novelty 2
  acc.Merge(other);
  EXPECT_NEAR(*acc.diversity(), 0.5, kEps);
  EXPECT_NEAR(*acc.novelty(), 1.75, kEps);
  EXPECT_NEAR(acc.coverage(), 0.3, kEps);
  // Ascending 0 x7, 1, 1, 2: sum_i i x_i = 8 + 9 + 20 = 37; 2*37/(10*4) - 11/10.
  EXPECT_NEAR(acc.exposure_gini(), 2.0 * 37 / 40 - 1.1, kEps);
  MetricAccumulator plain(2, 10);
  plain.Add(std::vector<ItemIndex>{0, 1}, rel);
  EXPECT_FALSE(plain.diversity().has_value());
  EXPECT_FALSE(plain.novelty().has_value());
  EXPECT_NEAR(plain.exposure_gini(), 0.8, kEps);  // 2 of 10 items equally: (n - m) / n
}

}  // namespace
}  // namespace recsys
