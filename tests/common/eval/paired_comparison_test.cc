#include "common/eval/paired_comparison.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace recsys {
namespace {

// A row's cases as owned vectors, viewed by CaseRowView.
struct Row {
  std::vector<uint64_t> keys;
  std::vector<float> recall, ndcg;
  CaseRowView view() const { return CaseRowView{keys, recall, ndcg}; }
};

// `n` cases keyed first_key.. with hits at rate `p` (recall 1, NDCG 1/log2(rank+2)
// for a random rank < 10), from a fixed seed.
Row Synthetic(size_t n, double p, uint64_t first_key, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Row r;
  for (size_t i = 0; i < n; ++i) {
    r.keys.push_back(first_key + i);
    const bool hit = u(rng) < p;
    r.recall.push_back(hit ? 1.0f : 0.0f);
    r.ndcg.push_back(hit ? static_cast<float>(1.0 / std::log2(2.0 + rng() % 10)) : 0.0f);
  }
  return r;
}

bool Contains(const MetricDifference& d, double x) { return d.low <= x && x <= d.high; }

// Identical results: paired, difference 0, the interval contains 0.
TEST(PairedComparison, IdenticalResultsShowNoDifference) {
  const Row a = Synthetic(500, 0.2, 1, 1);
  const RowComparison c = CompareRows(a.view(), a.view());
  EXPECT_TRUE(c.paired);
  EXPECT_EQ(c.matched, 500);
  EXPECT_EQ(c.ndcg.difference, 0.0);
  EXPECT_TRUE(Contains(c.ndcg, 0.0));
  EXPECT_TRUE(Contains(c.recall, 0.0));
  EXPECT_EQ(c.ndcg.verdict(), Verdict::kNoSignificantDifference);
  EXPECT_STREQ(VerdictName(c.ndcg.verdict()), "no significant difference");
}

// B hits 10 more of A's 400 cases (and loses none): a consistent gain far
// smaller than either row's own interval, detected only because it is paired.
TEST(PairedComparison, ConsistentShiftIsDetected) {
  const Row a = Synthetic(400, 0.2, 1, 2);
  Row b = a;
  int added = 0;
  for (size_t i = 0; i < b.keys.size() && added < 10; ++i) {
    if (b.recall[i] == 0) {
      b.recall[i] = 1;
      b.ndcg[i] = 0.5f;
      ++added;
    }
  }
  const RowComparison c = CompareRows(a.view(), b.view());
  ASSERT_TRUE(c.paired);
  EXPECT_NEAR(c.recall.difference, 10.0 / 400, 1e-9);
  EXPECT_NEAR(c.ndcg.difference, 5.0 / 400, 1e-6);
  EXPECT_EQ(c.recall.verdict(), Verdict::kBetter);
  EXPECT_EQ(c.ndcg.verdict(), Verdict::kBetter);
  EXPECT_GT(c.ndcg.low, 0.0);
  // The same change the other way round is "worse".
  const RowComparison back = CompareRows(b.view(), a.view());
  EXPECT_EQ(back.ndcg.verdict(), Verdict::kWorse);
  EXPECT_LT(back.ndcg.high, 0.0);
  EXPECT_STREQ(VerdictName(back.ndcg.verdict()), "worse");
  // Unpaired, the same means would be noise: the rows' own intervals overlap.
  Row shifted_keys = b;
  for (uint64_t& k : shifted_keys.keys) k += 1000000;
  const RowComparison unpaired = CompareRows(a.view(), shifted_keys.view());
  EXPECT_FALSE(unpaired.paired);
  EXPECT_NEAR(unpaired.ndcg.difference, c.ndcg.difference, 1e-9);
  EXPECT_EQ(unpaired.ndcg.verdict(), Verdict::kNoSignificantDifference);
}

// Per-case changes that cancel out (40 cases lost, 40 gained with the same
// NDCG, plus 2 more gained: the churn of a retrained model of the same
// quality) are no significant difference.
TEST(PairedComparison, NoiseIsNotSignificant) {
  const Row a = Synthetic(1000, 0.2, 1, 3);
  Row b = a;
  std::vector<size_t> hits, misses;
  for (size_t i = 0; i < a.keys.size(); ++i) (a.recall[i] > 0 ? hits : misses).push_back(i);
  ASSERT_GE(hits.size(), 40u);
  for (size_t j = 0; j < 40; ++j) {
    b.recall[misses[j]] = 1;
    b.ndcg[misses[j]] = a.ndcg[hits[j]];
    b.recall[hits[j]] = 0;
    b.ndcg[hits[j]] = 0;
  }
  for (size_t j = 40; j < 42; ++j) {
    b.recall[misses[j]] = 1;
    b.ndcg[misses[j]] = 0.5f;
  }
  const RowComparison c = CompareRows(a.view(), b.view());
  ASSERT_TRUE(c.paired);
  EXPECT_NEAR(c.ndcg.difference, 1.0 / 1000, 1e-6);
  EXPECT_TRUE(Contains(c.ndcg, 0.0)) << c.ndcg.low << " " << c.ndcg.high;
  EXPECT_EQ(c.ndcg.verdict(), Verdict::kNoSignificantDifference);
  EXPECT_EQ(c.recall.verdict(), Verdict::kNoSignificantDifference);
}

// Keys that do not match: unpaired difference of the means, half-widths
// combined as sqrt(h_a² + h_b²) with each row's own 1.96 · sd / sqrt(n).
TEST(PairedComparison, DisjointKeysFallBackToUnpaired) {
  const Row a = Synthetic(300, 0.2, 1, 5);
  const Row b = Synthetic(200, 0.3, 100000, 6);
  const RowComparison c = CompareRows(a.view(), b.view());
  EXPECT_FALSE(c.paired);
  EXPECT_EQ(c.matched, 0);
  EXPECT_EQ(c.cases_a, 300);
  EXPECT_EQ(c.cases_b, 200);
  auto half_width = [](const std::vector<float>& v) {
    double mean = 0, sq = 0;
    for (float x : v) mean += x;
    mean /= v.size();
    for (float x : v) sq += (x - mean) * (x - mean);
    return std::make_pair(mean, 1.96 * std::sqrt(sq / (v.size() - 1) / v.size()));
  };
  const auto [ma, ha] = half_width(a.ndcg);
  const auto [mb, hb] = half_width(b.ndcg);
  EXPECT_NEAR(c.ndcg.mean_a, ma, 1e-9);
  EXPECT_NEAR(c.ndcg.mean_b, mb, 1e-9);
  EXPECT_NEAR(c.ndcg.difference, mb - ma, 1e-9);
  EXPECT_NEAR(c.ndcg.high - c.ndcg.difference, std::sqrt(ha * ha + hb * hb), 1e-4);
}

// Pairing needs >= 90% of the smaller side and >= 30 matched cases.
TEST(PairedComparison, PairingThresholds) {
  const Row a = Synthetic(100, 0.3, 1, 7);
  Row b = a;
  for (size_t i = 0; i < 11; ++i) b.keys[i] += 5000;  // 89 of 100 match
  EXPECT_FALSE(CompareRows(a.view(), b.view()).paired);
  b = a;
  for (size_t i = 0; i < 10; ++i) b.keys[i] += 5000;  // 90 of 100
  const RowComparison c = CompareRows(a.view(), b.view());
  EXPECT_TRUE(c.paired);
  EXPECT_EQ(c.matched, 90);

  const Row small = Synthetic(29, 0.3, 1, 8);
  EXPECT_FALSE(CompareRows(small.view(), small.view()).paired);  // 29 < 30
  const Row enough = Synthetic(30, 0.3, 1, 8);
  EXPECT_TRUE(CompareRows(enough.view(), enough.view()).paired);
  // A larger side does not stop pairing when the smaller one is covered.
  const Row big = Synthetic(1000, 0.3, 1, 9);
  const Row part(Row{std::vector<uint64_t>(big.keys.begin(), big.keys.begin() + 100),
                     std::vector<float>(big.recall.begin(), big.recall.begin() + 100),
                     std::vector<float>(big.ndcg.begin(), big.ndcg.begin() + 100)});
  EXPECT_TRUE(CompareRows(big.view(), part.view()).paired);
}

// The result does not depend on the order of the cases.
TEST(PairedComparison, OrderDoesNotMatter) {
  const Row a = Synthetic(200, 0.25, 1, 10);
  Row b = Synthetic(200, 0.35, 1, 11);
  const RowComparison before = CompareRows(a.view(), b.view());
  std::vector<size_t> order(b.keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(12));
  Row shuffled;
  for (size_t i : order) {
    shuffled.keys.push_back(b.keys[i]);
    shuffled.recall.push_back(b.recall[i]);
    shuffled.ndcg.push_back(b.ndcg[i]);
  }
  const RowComparison after = CompareRows(a.view(), shuffled.view());
  EXPECT_NEAR(after.ndcg.difference, before.ndcg.difference, 1e-12);
  EXPECT_NEAR(after.ndcg.low, before.ndcg.low, 1e-9);
  EXPECT_NEAR(after.recall.high, before.recall.high, 1e-9);
}

// Empty or single-case rows give an infinite interval, never a verdict.
TEST(PairedComparison, TooFewCasesHaveNoVerdict) {
  const Row empty;
  const Row one = Synthetic(1, 1.0, 1, 13);
  for (const RowComparison& c :
       {CompareRows(empty.view(), one.view()), CompareRows(one.view(), one.view())}) {
    EXPECT_FALSE(c.paired);
    EXPECT_TRUE(std::isinf(c.ndcg.high));
    EXPECT_EQ(c.ndcg.verdict(), Verdict::kNoSignificantDifference);
  }
}

// Student's t quantiles: tabulated and expanded values against reference figures.
TEST(PairedComparison, StudentTQuantiles) {
  EXPECT_NEAR(StudentT975(1), 12.7062, 1e-4);
  EXPECT_NEAR(StudentT975(29), 2.0452, 1e-4);
  EXPECT_NEAR(StudentT975(30), 2.0423, 1e-4);
  EXPECT_NEAR(StudentT975(40), 2.0211, 1e-4);
  EXPECT_NEAR(StudentT975(60), 2.0003, 1e-4);
  EXPECT_NEAR(StudentT975(120), 1.9799, 1e-4);
  EXPECT_NEAR(StudentT975(100000), 1.96, 1e-4);
  EXPECT_TRUE(std::isinf(StudentT975(0)));
}

}  // namespace
}  // namespace recsys
