// The final-list choice: the ranker, a blend with a source's order, or in
// effect the source's order alone, on held-out validation cases.
#include "offline/ranker_selection.h"

#include <gtest/gtest.h>

#include <random>

namespace recsys::offline {
namespace {

// `groups` pools of 30 rows, one positive each. Feature `signal` of the
// positive is high when `informative`, and source `source` ranks the positive
// first in `source_hits` of every 10 groups (its reciprocal rank column).
PassOutput Pools(int groups, int source, int source_hits, bool informative, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  PassOutput out;
  const int rows_per = 30;
  out.features = FeatureMatrix::Zero(groups * rows_per, kNumFeatures);
  for (int g = 0; g < groups; ++g) {
    const int positive = static_cast<int>(rng() % rows_per);
    const bool hit = (g % 10) < source_hits;
    for (int r = 0; r < rows_per; ++r) {
      const int i = g * rows_per + r;
      const bool pos = r == positive;
      for (int j = 0; j < kNumFeatures; ++j) out.features(i, j) = noise(rng);
      // The signal column: informative for the ranker or pure noise.
      out.features(i, 2 * kNumSources + 1) = noise(rng) + (informative && pos ? 1.5f : 0.0f);
      // The source's reciprocal rank: the positive first when it is a hit,
      // others at random ranks 1..29.
      const int rank = pos && hit ? 0 : 1 + static_cast<int>(rng() % 29);
      out.features(i, 2 * source + 1) = 1.0f / (1.0f + static_cast<float>(rank));
      out.features(i, 2 * source) = 0.0f;
      out.labels.push_back(pos ? 1 : 0);
      out.group.push_back(g);
    }
  }
  return out;
}

TEST(RankerSelection, TheBestSourceIsFoundAndTheFinalListIsAtLeastAsGood) {
  // Only SLIST's order carries the answer: it is the best single source, and
  // the final order (the ranker learns that column too) is at least as good.
  const int slist = static_cast<int>(SourceId::kSlist);
  const PassOutput rows = Pools(400, slist, 6, /*informative=*/false, 1);
  const RankerChoice c = SelectAndFitRanker(rows, 10, RankerParams{});
  EXPECT_EQ(c.best_source, slist);
  EXPECT_GT(c.best_source_ndcg, 0.3);
  EXPECT_GE(c.final_ndcg, c.best_source_ndcg);
  EXPECT_GE(c.final_ndcg, c.heldout_ndcg);
}

TEST(RankerSelection, TheFinalListIsNeverWorseThanTheRankerOrTheBestSource) {
  for (uint64_t seed : {2, 3, 4}) {
    const PassOutput rows = Pools(300, static_cast<int>(SourceId::kEase), 2, /*informative=*/true,
                                  seed);
    const RankerChoice c = SelectAndFitRanker(rows, 10, RankerParams{});
    EXPECT_GE(c.final_ndcg, c.heldout_ndcg) << seed;
    EXPECT_GE(c.final_ndcg, c.best_source_ndcg) << seed;
    if (c.blend_source < 0) EXPECT_EQ(c.final_ndcg, c.heldout_ndcg);
  }
}

TEST(RankerSelection, BlendedKeepsProbabilitiesAndAddsTheWeight) {
  const PassOutput rows = Pools(200, 0, 5, true, 9);
  const LogisticRanker r = LogisticRanker::Fit(rows.features, rows.labels, RankerParams{});
  const LogisticRanker same = r.Blended(1, 0.0, rows.features, rows.labels);
  EXPECT_EQ(same.weights(), r.weights());
  // An absurd weight still gives finite probabilities in [0, 1], in the
  // column's order.
  const LogisticRanker huge = r.Blended(1, 1000.0, rows.features, rows.labels);
  std::vector<float> p;
  huge.Score(rows.features, &p);
  for (float v : p) {
    EXPECT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  }
  std::vector<float> m;
  huge.Margins(rows.features, &m);
  for (int i = 1; i < 30; ++i) {
    if (rows.features(i, 1) > rows.features(0, 1) + 0.1f) EXPECT_GT(m[i], m[0]);
  }
}

}  // namespace
}  // namespace recsys::offline
