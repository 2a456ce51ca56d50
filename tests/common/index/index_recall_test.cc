#include "common/index/index_recall.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace recsys {
namespace {

// n x d Gaussian vectors from a fixed seed, L2-normalised per row.
std::vector<float> UnitVectors(int64_t n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> v(n * d);
  for (float& x : v) x = gauss(rng);
  for (int64_t i = 0; i < n; ++i) {
    float norm2 = 0;
    for (int j = 0; j < d; ++j) norm2 += v[i * d + j] * v[i * d + j];
    for (int j = 0; j < d; ++j) v[i * d + j] /= std::sqrt(norm2);
  }
  return v;
}

// The sample is deterministic, distinct rows, and all rows when asked for more.
TEST(IndexRecall, SampleRows) {
  const std::vector<float> v = UnitVectors(50, 4, 1);
  const std::vector<float> a = SampleRows(v, 50, 4, 10, 7);
  EXPECT_EQ(a, SampleRows(v, 50, 4, 10, 7));
  EXPECT_EQ(a.size(), 40u);
  EXPECT_NE(a, SampleRows(v, 50, 4, 10, 8));
  EXPECT_EQ(SampleRows(v, 50, 4, 80, 7), v);
}

// A flat index has recall 1 against the exact scan and no ef_search.
TEST(IndexRecall, FlatIsExact) {
  const int64_t n = 3000;
  const int d = 16;
  const std::vector<float> v = UnitVectors(n, d, 2);
  auto index = VectorIndex::Build(v, n, d, VectorIndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status();
  auto r = TuneIndex(&*index, v, n, d);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, "flat");
  EXPECT_EQ(r->scan_fraction, 0.0);
  EXPECT_DOUBLE_EQ(r->recall, 1.0);
  EXPECT_EQ(r->ef_search, 0);
  EXPECT_EQ(r->k, 200);
  EXPECT_EQ(r->queries, 200);
  EXPECT_TRUE(r->reached_target);
}

// A pruned (norm-ordered, exact) index: recall 1, its probe fraction
// recorded, and the manifest parameters name its kind.
TEST(IndexRecall, PrunedIsExactAndRecordsItsScanFraction) {
  const int64_t n = 6000;
  const int d = 16;
  std::vector<float> v = UnitVectors(n, d, 5);
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> u(1e-6, 1.0);
  for (int64_t i = 0; i < n; ++i) {
    const float scale = static_cast<float>(std::min(5.0, 0.01 * std::pow(u(rng), -1.0)));
    for (int j = 0; j < d; ++j) v[i * d + j] *= scale;
  }
  VectorIndexOptions options;
  options.flat_max_items = 100;
  options.pruned_probe_k = 10;
  auto index = VectorIndex::Build(v, n, d, options);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->kind(), "pruned");
  RecallOptions ro;
  ro.k = 10;
  auto r = TuneIndex(&*index, v, n, d, ro);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, "pruned");
  EXPECT_DOUBLE_EQ(r->recall, 1.0);
  EXPECT_GT(r->scan_fraction, 0.0);
  EXPECT_LE(r->scan_fraction, 0.1);
  bool has_kind = false;
  for (const auto& [key, value] : IndexRecallParams("als", *r)) {
    if (key == IndexKindKey("als")) has_kind = value == "pruned";
  }
  EXPECT_TRUE(has_kind);
}

// HNSW: recall is a sane fraction that does not fall as ef_search grows; the
// ladder picks the first value reaching the target (or the last one), the
// index keeps it, and a reload with the recorded value searches the same way.
TEST(IndexRecall, HnswLadder) {
  const int64_t n = 6000;
  const int d = 32;
  const std::vector<float> v = UnitVectors(n, d, 3);
  VectorIndexOptions options;
  options.flat_max_items = 1000;
  options.hnsw_m = 8;
  options.hnsw_ef_construction = 40;
  auto index = VectorIndex::Build(v, n, d, options);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_FALSE(index->is_exact());
  const std::vector<float> queries = SampleRows(v, n, d, 100, 1);
  double previous = 0;
  std::vector<double> recall;
  for (int ef : {10, 200, 400, 800}) {
    SearchParams p;
    p.ef_search = ef;
    index->SetEfSearch(ef);  // the ceiling follows
    auto r = MeasureRecall(*index, v, n, d, queries, 50, p);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GT(*r, 0.3) << ef;
    EXPECT_LE(*r, 1.0) << ef;
    EXPECT_GE(*r, previous - 0.02) << ef;
    previous = *r;
    recall.push_back(*r);
  }
  RecallOptions ro;
  ro.queries = 100;
  ro.k = 10;
  ro.ef_ladder = {50, 200, 400, 800};
  for (double target : {0.0, recall[1] - 1e-9, 1.01}) {
    ro.target_recall = target;
    auto r = TuneIndex(&*index, v, n, d, ro);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->kind, "hnsw");
    if (target == 0.0) {
      EXPECT_EQ(r->ef_search, 50);
      EXPECT_TRUE(r->reached_target);
    } else if (target > 1) {
      EXPECT_EQ(r->ef_search, 800);
      EXPECT_FALSE(r->reached_target);
    } else {
      EXPECT_LE(r->ef_search, 200);
      EXPECT_GE(r->recall, target);
    }
    EXPECT_EQ(index->ef_search(), r->ef_search);
  }
  // The last tuning left 800; searches without ef use it.
  auto stored = MeasureRecall(*index, v, n, d, queries, 50);
  ASSERT_TRUE(stored.ok());
  const std::string path = ::testing::TempDir() + "/index_recall_hnsw.faiss";
  ASSERT_TRUE(index->Save(path).ok());
  VectorIndexOptions load;
  load.hnsw_ef_search = 800;
  auto loaded = VectorIndex::Load(path, load);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ef_search(), 800);
  auto again = MeasureRecall(*loaded, v, n, d, queries, 50);
  ASSERT_TRUE(again.ok());
  EXPECT_DOUBLE_EQ(*again, *stored);
  // The manifest parameters.
  IndexRecall r{"hnsw", 200, 200, 0.96123, 256, true};
  const auto params = IndexRecallParams("als", r);
  EXPECT_EQ(params.size(), 7u);
  EXPECT_EQ(params[3].first, "index.als.recall");
  EXPECT_EQ(params[3].second, "0.9612");
  EXPECT_EQ(params[4].first, IndexEfSearchKey("als"));
  EXPECT_EQ(params[4].second, "256");
}

}  // namespace
}  // namespace recsys
