#include "common/index/exact_scan.h"

#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/index/vector_index.h"

namespace recsys {
namespace {

// Float rounding of one inner product differs between kernels and FAISS by far
// less than this (|x|, |q| <= ~4 sqrt(d) for Gaussian data).
constexpr double kScoreTolerance = 1e-4;

const ScanKernel kKernels[] = {ScanKernel::kAuto, ScanKernel::kPortable};

std::vector<float> Gaussian(int64_t n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n) * d);
  for (float& x : v) x = gauss(rng);
  return v;
}

struct Exact {
  int64_t id;
  double score;
};

// Every non-excluded row with its inner product in double precision, best first
// (ties by smaller id).
std::vector<Exact> BruteForce(const std::vector<float>& data, int64_t n, int d, const float* q,
                              const std::vector<int64_t>& exclude = {}) {
  std::vector<Exact> all;
  for (int64_t i = 0; i < n; ++i) {
    if (std::binary_search(exclude.begin(), exclude.end(), i)) continue;
    double s = 0;
    for (int j = 0; j < d; ++j) s += double{data[i * d + j]} * q[j];
    all.push_back({i, s});
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Exact& a, const Exact& b) { return a.score > b.score; });
  return all;
}

// `got` is the exact top-k of `all` (BruteForce's list): the right length;
// the i-th score equals the i-th best score and the score of the returned id;
// the same ids in the same order, except where two exact scores are so close
// (a near-tie) that float rounding may legitimately swap them.
void ExpectTopK(const std::vector<Neighbor>& got, const std::vector<Exact>& all, int k,
                const std::string& what) {
  const size_t want = std::min<size_t>(all.size(), k);
  ASSERT_EQ(got.size(), want) << what;
  int64_t max_id = -1;
  for (const Exact& e : all) max_id = std::max(max_id, e.id);
  std::vector<double> score_of(max_id + 1, std::nan(""));  // NaN: excluded
  for (const Exact& e : all) score_of[e.id] = e.score;
  for (size_t i = 0; i < want; ++i) {
    SCOPED_TRACE(what + " rank " + std::to_string(i));
    ASSERT_LT(got[i].id, static_cast<int64_t>(score_of.size()));
    ASSERT_FALSE(std::isnan(score_of[got[i].id])) << "returned an excluded id " << got[i].id;
    EXPECT_NEAR(got[i].score, score_of[got[i].id], kScoreTolerance);
    EXPECT_NEAR(got[i].score, all[i].score, kScoreTolerance);
    if (got[i].id != all[i].id) {
      const bool near_tie =
          (i > 0 && all[i - 1].score - all[i].score < 2 * kScoreTolerance) ||
          (i + 1 < all.size() && all[i].score - all[i + 1].score < 2 * kScoreTolerance);
      EXPECT_TRUE(near_tie) << "id " << got[i].id << " where " << all[i].id << " belongs";
    }
    if (i > 0) {
      EXPECT_TRUE(got[i - 1].score > got[i].score ||
                  (got[i - 1].score == got[i].score && got[i - 1].id < got[i].id));
    }
  }
}

// Bit-identical lists (same kernel, same data: a deterministic function).
void ExpectIdentical(const std::vector<Neighbor>& a, const std::vector<Neighbor>& b,
                     const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id) << what << " rank " << i;
    EXPECT_EQ(a[i].score, b[i].score) << what << " rank " << i;
  }
}

// Gaussian rows scaled by a heavy-tailed factor (Pareto, shape 1.2, capped), like ALS
// item factors whose norm grows with popularity.
std::vector<float> HeavyTailed(int64_t n, int d, uint64_t seed) {
  std::vector<float> v = Gaussian(n, d, seed);
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<double> u(1e-6, 1.0);
  for (int64_t i = 0; i < n; ++i) {
    // Capped so that scores stay within the absolute tolerance of float sums.
    const float scale = static_cast<float>(std::min(4.0, 0.02 * std::pow(u(rng), -1.0 / 1.2)));
    for (int j = 0; j < d; ++j) v[i * d + j] *= scale;
  }
  return v;
}

// The norm-ordered walk is exact: the brute-force top-k for rows as queries,
// random queries, negative-only scores, k beyond n and with exclusions; it
// scores few rows on heavy-tailed norms and all rows on unit norms.
TEST(ExactScan, NormOrderedWalkIsExact) {
  const int d = 24;
  const int64_t n = 6000;
  const std::vector<float> data = HeavyTailed(n, d, 41);
  const ExactScan plain(data.data(), n, d);
  const ExactScan by_norm(data.data(), n, d, ScanOrder::kByNormDescending);
  EXPECT_EQ(by_norm.order(), ScanOrder::kByNormDescending);
  EXPECT_EQ(by_norm.RowsById(), data);
  const std::vector<float> random_queries = Gaussian(10, d, 42);
  int64_t scored_rows = 0;
  int row_queries = 0;
  for (ScanKernel kernel : kKernels) {
    for (int q = 0; q < 30; ++q) {
      std::vector<float> query;
      if (q < 10) {
        query.assign(data.begin() + q * 197 * d, data.begin() + (q * 197 + 1) * d);
      } else if (q < 20) {
        query.assign(random_queries.begin() + (q - 10) * d, random_queries.begin() + (q - 9) * d);
      } else {  // the negated row: every score of its own row negative, most others mixed
        query.assign(data.begin() + q * 113 * d, data.begin() + (q * 113 + 1) * d);
        for (float& x : query) x = -x;
      }
      const std::vector<int64_t> exclude = {0, 5, q * 197, n - 1};
      for (int k : {1, 10, 200}) {
        const std::string what = "query " + std::to_string(q) + " k " + std::to_string(k);
        int64_t scored = -1;
        const auto got = by_norm.Search(query.data(), k, {}, kernel, &scored);
        ExpectTopK(got, BruteForce(data, n, d, query.data()), k, what);
        EXPECT_GE(scored, k) << what;
        EXPECT_LE(scored, n) << what;
        if (q < 10 && k == 10) {
          scored_rows += scored;
          ++row_queries;
        }
        ExpectTopK(by_norm.Search(query.data(), k, exclude, kernel),
                   BruteForce(data, n, d, query.data(), exclude), k, what + " excluding");
        // Same ids and scores as the plain scan (no exact ties in Gaussian data).
        ExpectIdentical(got, plain.Search(query.data(), k, {}, kernel), what + " vs plain");
      }
    }
  }
  // Heavy tails prune: a row's own top-10 reads well under half the rows.
  EXPECT_LT(static_cast<double>(scored_rows) / row_queries, 0.5 * n);
  // k beyond n: everything, sorted.
  const auto all = by_norm.Search(random_queries.data(), static_cast<int>(n) + 5);
  ExpectTopK(all, BruteForce(data, n, d, random_queries.data()), static_cast<int>(n) + 5, "all");

  // Unit norms: nothing to prune, still exact.
  std::vector<float> unit = Gaussian(2000, d, 43);
  for (int64_t i = 0; i < 2000; ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += unit[i * d + j] * unit[i * d + j];
    for (int j = 0; j < d; ++j) unit[i * d + j] = static_cast<float>(unit[i * d + j] / std::sqrt(s));
  }
  const ExactScan unit_scan(unit.data(), 2000, d, ScanOrder::kByNormDescending);
  int64_t scored = 0;
  const auto got = unit_scan.Search(unit.data() + 7 * d, 50, {}, ScanKernel::kAuto, &scored);
  ExpectTopK(got, BruteForce(unit, 2000, d, unit.data() + 7 * d), 50, "unit");
  EXPECT_GT(scored, 1000);
}

// Identical rows keep the smaller ids in the norm-ordered walk too; batches
// equal single searches; a NaN row is never returned; empty scans are empty.
TEST(ExactScan, NormOrderedTiesBatchesAndDegenerateRows) {
  const int d = 8;
  std::vector<float> data = HeavyTailed(300, d, 44);
  for (int j = 0; j < d; ++j) {
    data[250 * d + j] = data[40 * d + j];  // row 250 duplicates row 40
    data[41 * d + j] = std::nanf("");      // row 41 is NaN
  }
  const ExactScan by_norm(data.data(), 300, d, ScanOrder::kByNormDescending);
  const auto got = by_norm.Search(data.data() + 40 * d, 300);
  std::vector<int64_t> ids;
  for (const Neighbor& nb : got) ids.push_back(nb.id);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 41), 0);
  const auto first40 = std::find(ids.begin(), ids.end(), 40);
  const auto first250 = std::find(ids.begin(), ids.end(), 250);
  ASSERT_NE(first40, ids.end());
  ASSERT_NE(first250, ids.end());
  EXPECT_LT(first40, first250);
  // A cut through the tie keeps the smaller id.
  const std::vector<float> q(data.begin() + 40 * d, data.begin() + 41 * d);
  const auto top = by_norm.Search(q.data(), 300);
  const auto pair_rank = std::find_if(top.begin(), top.end(), [](const Neighbor& nb) {
    return nb.id == 40 || nb.id == 250;
  });
  ASSERT_NE(pair_rank, top.end());
  const int cut = static_cast<int>(pair_rank - top.begin()) + 1;
  const auto cut_top = by_norm.Search(q.data(), cut);
  EXPECT_EQ(cut_top.back().id, 40);

  const std::vector<float> queries = Gaussian(5, d, 45);
  const auto batch = by_norm.SearchBatch(queries.data(), 5, 17);
  ASSERT_EQ(batch.size(), 5u);
  for (int q2 = 0; q2 < 5; ++q2) {
    ExpectIdentical(batch[q2], by_norm.Search(queries.data() + q2 * d, 17), "batch");
  }
  const ExactScan empty(nullptr, 0, d, ScanOrder::kByNormDescending);
  EXPECT_TRUE(empty.Search(queries.data(), 5).empty());
  EXPECT_TRUE(by_norm.Search(queries.data(), 0).empty());
}

// The kernel this machine runs is reported (AVX2 where available).
TEST(ExactScan, ReportsKernel) {
  std::cout << "[ scan     ] kernel: " << ScanKernelName() << "\n";
  EXPECT_STREQ(ScanKernelName(ScanKernel::kPortable), "portable");
  EXPECT_EQ(DetectScanKernel() == ScanKernel::kAvx2, std::string(ScanKernelName()) == "avx2+fma");
}

// Both kernels equal brute force for d not a multiple of 8, n not a multiple of
// the 8-row block, k below, at and above n.
TEST(ExactScan, EqualsBruteForceAcrossShapes) {
  uint64_t seed = 100;
  for (int d : {1, 3, 7, 8, 13, 32, 64, 96, 100, 128, 130}) {
    for (int64_t n : {1, 7, 8, 9, 100, 1001}) {
      const auto data = Gaussian(n, d, ++seed);
      const auto queries = Gaussian(3, d, ++seed);
      for (int q = 0; q < 3; ++q) {
        const float* query = queries.data() + q * d;
        const auto all = BruteForce(data, n, d, query);
        for (int k : {1, 5, 64, static_cast<int>(n), static_cast<int>(n) + 10}) {
          for (ScanKernel kernel : kKernels) {
            const std::string what = "d=" + std::to_string(d) + " n=" + std::to_string(n) +
                                     " k=" + std::to_string(k) + " " + ScanKernelName(kernel);
            ExpectTopK(ExactTopK(data.data(), n, d, query, k, {}, kernel), all, k, what);
          }
        }
      }
    }
  }
}

// Many cuts of the top-k buffer (small k, large n), including rows in
// increasing-score order (every row enters) and decreasing order (one cut).
TEST(ExactScan, BufferCutsKeepTheBest) {
  const int d = 16;
  const int64_t n = 20000;
  auto data = Gaussian(n, d, 7);
  const auto query = Gaussian(1, d, 8);
  for (int k : {1, 3, 50, 300}) {
    ExpectTopK(ExactTopK(data.data(), n, d, query.data(), k), BruteForce(data, n, d, query.data()),
               k, "random k=" + std::to_string(k));
  }
  // Row i = (i + 1) * e0 (scores increase with the id), then reversed.
  std::vector<float> ramp(n * d, 0.0f);
  std::vector<float> e0(d, 0.0f);
  e0[0] = 1.0f;
  for (int64_t i = 0; i < n; ++i) ramp[i * d] = static_cast<float>(i + 1);
  for (bool reversed : {false, true}) {
    if (reversed) {
      for (int64_t i = 0; i < n; ++i) ramp[i * d] = static_cast<float>(n - i);
    }
    for (ScanKernel kernel : kKernels) {
      const auto got = ExactTopK(ramp.data(), n, d, e0.data(), 10, {}, kernel);
      ASSERT_EQ(got.size(), 10u);
      for (int r = 0; r < 10; ++r) {
        EXPECT_EQ(got[r].id, reversed ? r : n - 1 - r);
        EXPECT_EQ(got[r].score, static_cast<float>(n - r));
      }
    }
  }
}

// Excluded ids never come back and the next best take their places; excluding
// everything leaves nothing; ids beyond n in the list are harmless.
TEST(ExactScan, Exclusions) {
  const int d = 24;
  const int64_t n = 3001;
  const auto data = Gaussian(n, d, 11);
  const auto query = Gaussian(1, d, 12);
  const auto all = BruteForce(data, n, d, query.data());
  std::vector<int64_t> exclude = {0, 5, n - 1, n + 5};
  for (int r = 0; r < 20; r += 2) exclude.push_back(all[r].id);
  std::sort(exclude.begin(), exclude.end());
  exclude.erase(std::unique(exclude.begin(), exclude.end()), exclude.end());
  for (ScanKernel kernel : kKernels) {
    for (int k : {1, 10, 200}) {
      ExpectTopK(ExactTopK(data.data(), n, d, query.data(), k, exclude, kernel),
                 BruteForce(data, n, d, query.data(), exclude), k,
                 "exclusions k=" + std::to_string(k));
    }
    std::vector<int64_t> everything(n);
    for (int64_t i = 0; i < n; ++i) everything[i] = i;
    EXPECT_TRUE(ExactTopK(data.data(), n, d, query.data(), 5, everything, kernel).empty());
    // k > n - |exclude|: all the others, in order.
    const std::vector<int64_t> most(everything.begin() + 3, everything.end());
    const auto rest = ExactTopK(data.data(), n, d, query.data(), 10, most, kernel);
    ASSERT_EQ(rest.size(), 3u);
    for (const Neighbor& nb : rest) EXPECT_LT(nb.id, 3);
  }
}

// Equal scores (duplicated rows) are ordered by smaller id, identical rows score
// bit-identically, and a cut inside a group of ties keeps the smallest ids.
TEST(ExactScan, TiesGoToTheSmallerId) {
  const int d = 20;
  const int64_t distinct = 37;
  const int copies = 9;
  const auto base = Gaussian(distinct, d, 21);
  // Row i is base[i % distinct]: ids i, i + 37, i + 74, ... are equal.
  std::vector<float> data(distinct * copies * d);
  for (int64_t i = 0; i < distinct * copies; ++i) {
    std::copy_n(base.begin() + (i % distinct) * d, d, data.begin() + i * d);
  }
  const int64_t n = distinct * copies;
  const auto query = Gaussian(1, d, 22);
  for (ScanKernel kernel : kKernels) {
    const auto got = ExactTopK(data.data(), n, d, query.data(), static_cast<int>(n), {}, kernel);
    ASSERT_EQ(got.size(), static_cast<size_t>(n));
    for (size_t r = 0; r < got.size(); ++r) {
      // Groups of `copies` equal scores, ids ascending within a group.
      const size_t first = r / copies * copies;
      EXPECT_EQ(got[r].score, got[first].score) << r;
      EXPECT_EQ(got[r].id, got[first].id + static_cast<int64_t>(r - first) * distinct) << r;
      if (r > 0 && r % copies == 0) {
        EXPECT_GT(got[r - 1].score, got[r].score);
      }
    }
    // k = 4 cuts the best group of 9: its 4 smallest ids.
    const auto top4 = ExactTopK(data.data(), n, d, query.data(), 4, {}, kernel);
    for (int r = 0; r < 4; ++r) EXPECT_EQ(top4[r].id, got[0].id + r * distinct);
    // FAISS 1.7.3's flat search returns the same groups, but lists equal scores
    // larger id first (its heap's final sort); at a cut through a group it also
    // keeps the smallest ids. Documented difference: only the order inside a tie.
    faiss::IndexFlatIP faiss_index(d);
    faiss_index.add(n, data.data());
    for (int64_t k : {n, int64_t{4}}) {
      std::vector<float> distances(k);
      std::vector<faiss::Index::idx_t> labels(k);
      faiss_index.search(1, query.data(), k, distances.data(), labels.data());
      const auto mine = ExactTopK(data.data(), n, d, query.data(), static_cast<int>(k), {}, kernel);
      for (int64_t first = 0; first < k; first += copies) {
        const int64_t last = std::min<int64_t>(k, first + copies);
        std::vector<int64_t> want;
        for (int64_t r = last - 1; r >= first; --r) want.push_back(mine[r].id);
        EXPECT_EQ(std::vector<int64_t>(labels.begin() + first, labels.begin() + last), want)
            << "k=" << k << " group at " << first;
      }
    }
    // All-zero rows: every score 0, so ids 0..k-1.
    const std::vector<float> zeros(n * d, 0.0f);
    const auto z = ExactTopK(zeros.data(), n, d, query.data(), 6, {}, kernel);
    ASSERT_EQ(z.size(), 6u);
    for (int r = 0; r < 6; ++r) EXPECT_EQ(z[r].id, r);
  }
}

// The batch gives exactly (bit for bit) the lists of one search per query, with
// n spanning several cache blocks and a partial last block.
TEST(ExactScan, BatchEqualsSingle) {
  for (int d : {13, 64}) {
    const int64_t n = 9 * 1024 + 5;
    const auto data = Gaussian(n, d, 31 + d);
    const int nq = 11;
    const auto queries = Gaussian(nq, d, 32 + d);
    for (ScanKernel kernel : kKernels) {
      const auto batch = ExactTopKBatch(data.data(), n, d, queries.data(), nq, 25, kernel);
      ASSERT_EQ(batch.size(), static_cast<size_t>(nq));
      for (int q = 0; q < nq; ++q) {
        ExpectIdentical(batch[q],
                        ExactTopK(data.data(), n, d, queries.data() + q * d, 25, {}, kernel),
                        "d=" + std::to_string(d) + " query " + std::to_string(q));
      }
    }
  }
  EXPECT_TRUE(ExactTopKBatch(nullptr, 0, 4, nullptr, 0, 3).empty());
}

// Repeated searches, the ExactScan copy and an unaligned input all give the
// same lists (a deterministic function of data, query and kernel).
TEST(ExactScan, DeterministicAndAlignmentFree) {
  const int d = 64;
  const int64_t n = 5003;
  const auto data = Gaussian(n + 1, d, 41);
  const auto query = Gaussian(1, d, 42);
  const ExactScan copy(data.data(), n, d);
  EXPECT_EQ(copy.size(), n);
  EXPECT_EQ(copy.dim(), d);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % 64, 0u);
  for (ScanKernel kernel : kKernels) {
    const auto a = ExactTopK(data.data(), n, d, query.data(), 100, {}, kernel);
    ExpectIdentical(a, ExactTopK(data.data(), n, d, query.data(), 100, {}, kernel), "repeat");
    ExpectIdentical(a, copy.Search(query.data(), 100, {}, kernel), "copy");
    // The same rows starting one float later (no 32-byte alignment).
    std::vector<float> shifted(data.size() + 1);
    std::copy(data.begin(), data.end(), shifted.begin() + 1);
    ExpectIdentical(a, ExactTopK(shifted.data() + 1, n, d, query.data(), 100, {}, kernel),
                    "unaligned");
  }
}

// Degenerate arguments give empty lists; NaN scores are never returned.
TEST(ExactScan, DegenerateInputs) {
  const auto data = Gaussian(10, 4, 51);
  const auto query = Gaussian(1, 4, 52);
  EXPECT_TRUE(ExactTopK(data.data(), 10, 4, query.data(), 0).empty());
  EXPECT_TRUE(ExactTopK(data.data(), 0, 4, query.data(), 3).empty());
  EXPECT_TRUE(ExactTopK(data.data(), 10, 0, query.data(), 3).empty());
  const ExactScan empty(nullptr, 0, 4);
  EXPECT_TRUE(empty.Search(query.data(), 3).empty());
  const std::vector<float> nan_query(4, std::numeric_limits<float>::quiet_NaN());
  for (ScanKernel kernel : kKernels) {
    EXPECT_TRUE(ExactTopK(data.data(), 10, 4, nan_query.data(), 3, {}, kernel).empty());
  }
}

// On tie-free random data the scan returns FAISS IndexFlatIP's lists: same ids
// in the same order (up to rounding near-ties), same scores to float rounding;
// and so does VectorIndex with its default (exact-scan) and FAISS flat paths.
TEST(ExactScan, EqualsFaissIndexFlatIP) {
  for (int d : {13, 64, 96}) {
    const int64_t n = 20011;
    const auto data = Gaussian(n, d, 61 + d);
    const int nq = 8;
    const auto queries = Gaussian(nq, d, 62 + d);
    faiss::IndexFlatIP faiss_index(d);
    faiss_index.add(n, data.data());
    VectorIndexOptions options;
    auto scan_index = VectorIndex::Build(data, n, d, options);
    options.flat_search = FlatSearch::kFaiss;
    auto faiss_vi = VectorIndex::Build(data, n, d, options);
    ASSERT_TRUE(scan_index.ok() && faiss_vi.ok());
    EXPECT_EQ(scan_index->search_kind().rfind("exact_scan/", 0), 0u) << scan_index->search_kind();
    EXPECT_EQ(faiss_vi->search_kind(), "faiss_flat");
    const int k = 200;
    for (int q = 0; q < nq; ++q) {
      const float* query = queries.data() + q * d;
      std::vector<float> distances(k);
      std::vector<faiss::Index::idx_t> labels(k);
      faiss_index.search(1, query, k, distances.data(), labels.data());
      // FAISS's list as the reference, with its own scores.
      std::vector<Exact> faiss_list;
      for (int r = 0; r < k; ++r) faiss_list.push_back({labels[r], distances[r]});
      const auto all = BruteForce(data, n, d, query);
      const std::string what = "d=" + std::to_string(d) + " query " + std::to_string(q);
      for (ScanKernel kernel : kKernels) {
        const auto got = ExactTopK(data.data(), n, d, query, k, {}, kernel);
        ExpectTopK(got, all, k, what);
        int differing = 0;
        for (int r = 0; r < k; ++r) {
          EXPECT_NEAR(got[r].score, faiss_list[r].score, kScoreTolerance) << what;
          differing += got[r].id != faiss_list[r].id;
        }
        EXPECT_LE(differing, 2) << what << ": only a rounding near-tie may swap";
      }
      auto via_scan = scan_index->Search(query, k, {});
      auto via_faiss = faiss_vi->Search(query, k, {});
      ASSERT_TRUE(via_scan.ok() && via_faiss.ok());
      ExpectIdentical(*via_scan, ExactTopK(data.data(), n, d, query, k), what + " VectorIndex");
      ASSERT_EQ(via_faiss->size(), static_cast<size_t>(k));
      for (int r = 0; r < k; ++r) EXPECT_EQ((*via_faiss)[r].id, labels[r]) << what;
    }
  }
}

// A flat index saved by either path loads into either path with identical
// results (the file is FAISS's IndexFlatIP format).
TEST(ExactScan, VectorIndexSaveLoadAcrossPaths) {
  const int d = 40;
  const int64_t n = 777;
  const auto data = Gaussian(n, d, 71);
  const auto query = Gaussian(1, d, 72);
  const std::string path = ::testing::TempDir() + "/exact_scan_flat.faiss";
  VectorIndexOptions scan_options;
  VectorIndexOptions faiss_options;
  faiss_options.flat_search = FlatSearch::kFaiss;
  auto built = VectorIndex::Build(data, n, d, scan_options);
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(built->Save(path).ok());
  auto as_scan = VectorIndex::Load(path, scan_options);
  auto as_faiss = VectorIndex::Load(path, faiss_options);
  ASSERT_TRUE(as_scan.ok() && as_faiss.ok());
  EXPECT_EQ(as_faiss->search_kind(), "faiss_flat");
  EXPECT_TRUE(as_scan->is_exact() && as_faiss->is_exact());
  EXPECT_EQ(as_scan->size(), n);
  EXPECT_EQ(as_scan->dim(), d);
  const std::vector<int64_t> exclude = {1, 2, 3};
  auto a = built->Search(query.data(), 30, exclude);
  auto b = as_scan->Search(query.data(), 30, exclude);
  auto c = as_faiss->Search(query.data(), 30, exclude);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ExpectIdentical(*a, *b, "built vs loaded");
  ASSERT_EQ(a->size(), c->size());
  for (size_t r = 0; r < a->size(); ++r) EXPECT_EQ((*a)[r].id, (*c)[r].id) << r;
  // The FAISS-searched index writes the same file format back.
  const std::string path2 = ::testing::TempDir() + "/exact_scan_flat2.faiss";
  ASSERT_TRUE(as_faiss->Save(path2).ok());
  auto again = VectorIndex::Load(path2);
  ASSERT_TRUE(again.ok());
  auto d2 = again->Search(query.data(), 30, exclude);
  ASSERT_TRUE(d2.ok());
  ExpectIdentical(*a, *d2, "round trip through the FAISS path");
}

}  // namespace
}  // namespace recsys
