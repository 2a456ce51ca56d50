#include "common/index/vector_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace recsys {
namespace {

// n x d Gaussian vectors from a fixed seed, optionally L2-normalised per row.
std::vector<float> RandomVectors(int64_t n, int d, uint64_t seed, bool normalise) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> v(n * d);
  for (float& x : v) x = gauss(rng);
  if (normalise) {
    for (int64_t i = 0; i < n; ++i) {
      float norm2 = 0;
      for (int j = 0; j < d; ++j) norm2 += v[i * d + j] * v[i * d + j];
      const float inv = 1.0f / std::sqrt(norm2);
      for (int j = 0; j < d; ++j) v[i * d + j] *= inv;
    }
  }
  return v;
}

// Exact top-k by inner product, ids not in `exclude`.
std::vector<Neighbor> BruteForce(const std::vector<float>& data, int64_t n, int d, const float* q,
                                 int k, const std::vector<int64_t>& exclude = {}) {
  std::vector<Neighbor> all;
  for (int64_t i = 0; i < n; ++i) {
    if (std::binary_search(exclude.begin(), exclude.end(), i)) continue;
    float s = 0;
    for (int j = 0; j < d; ++j) s += data[i * d + j] * q[j];
    all.push_back({i, s});
  }
  std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  });
  all.resize(std::min<size_t>(all.size(), k));
  return all;
}

std::vector<int64_t> Ids(const std::vector<Neighbor>& ns) {
  std::vector<int64_t> ids;
  for (const Neighbor& n : ns) ids.push_back(n.id);
  return ids;
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

// A flat index returns exactly the brute-force inner-product top-k.
TEST(VectorIndex, FlatEqualsBruteForce) {
  const int64_t n = 800;
  const int d = 24;
  const auto data = RandomVectors(n, d, 7, /*normalise=*/false);
  const auto queries = RandomVectors(20, d, 8, false);
  auto index = VectorIndex::Build(data, n, d, {});
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE(index->is_exact());
  EXPECT_EQ(index->size(), n);
  EXPECT_EQ(index->dim(), d);
  for (int q = 0; q < 20; ++q) {
    auto got = index->Search(queries.data() + q * d, 10, {});
    ASSERT_TRUE(got.ok()) << got.status();
    const auto want = BruteForce(data, n, d, queries.data() + q * d, 10);
    ASSERT_EQ(got->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].id, want[i].id) << "query " << q << " rank " << i;
      EXPECT_NEAR((*got)[i].score, want[i].score, 1e-4);
    }
  }
}

// Subset: an index over some rows answers, mapped back, exactly what the
// whole index answers among those rows (same ids, bit-identical scores), for
// the plain and the norm-ordered scan; HNSW cannot be cut.
TEST(VectorIndex, SubsetEqualsTheWholeIndexRestrictedToItsRows) {
  const int64_t n = 1000;
  const int d = 16;
  const auto data = RandomVectors(n, d, 11, /*normalise=*/false);
  const auto queries = RandomVectors(10, d, 12, false);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 3 != 1) rows.push_back(i);
  }
  VectorIndexOptions by_norm;
  by_norm.flat_max_items = 10;  // above it: the norm-ordered scan (Gaussian norms prune)
  by_norm.pruned_max_scan_fraction = 1.0;
  for (const VectorIndexOptions& options : {VectorIndexOptions{}, by_norm}) {
    auto whole = VectorIndex::Build(data, n, d, options);
    ASSERT_TRUE(whole.ok()) << whole.status();
    auto part = whole->Subset(rows);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(part->size(), static_cast<int64_t>(rows.size()));
    EXPECT_EQ(part->kind(), whole->kind());
    std::vector<int64_t> others;
    for (int64_t i = 0; i < n; ++i) {
      if (i % 3 == 1) others.push_back(i);
    }
    for (int q = 0; q < 10; ++q) {
      auto want = whole->Search(queries.data() + q * d, 20, others);
      auto got = part->Search(queries.data() + q * d, 20, {});
      ASSERT_TRUE(want.ok() && got.ok());
      ASSERT_EQ(got->size(), want->size());
      for (size_t i = 0; i < want->size(); ++i) {
        EXPECT_EQ(rows[(*got)[i].id], (*want)[i].id) << whole->kind() << " query " << q;
        EXPECT_EQ((*got)[i].score, (*want)[i].score);
      }
    }
  }
  auto whole = VectorIndex::Build(data, n, d, {});
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->Subset(std::vector<int64_t>{3, 2}).ok()) << "ids must ascend";
  EXPECT_FALSE(whole->Subset(std::vector<int64_t>{n}).ok()) << "ids must be rows";
  VectorIndexOptions hnsw;
  hnsw.flat_max_items = 10;
  hnsw.pruned_max_scan_fraction = 0;
  auto graph = VectorIndex::Build(data, n, d, hnsw);
  ASSERT_TRUE(graph.ok());
  EXPECT_TRUE(absl::IsUnimplemented(graph->Subset(rows).status()));
}

// HNSW (chosen above flat_max_items) keeps recall@10 >= 0.9 against exact search.
TEST(VectorIndex, HnswRecallAgainstExact) {
  const int64_t n = 5000;
  const int d = 32;
  const auto data = RandomVectors(n, d, 11, /*normalise=*/true);
  const int nq = 200;
  const auto queries = RandomVectors(nq, d, 12, true);
  VectorIndexOptions options;
  options.flat_max_items = 1000;
  auto index = VectorIndex::Build(data, n, d, options);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_FALSE(index->is_exact());
  int hits = 0;
  for (int q = 0; q < nq; ++q) {
    auto got = index->Search(queries.data() + q * d, 10, {});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 10u);
    const auto want = Ids(BruteForce(data, n, d, queries.data() + q * d, 10));
    for (const Neighbor& nb : *got) {
      hits += std::count(want.begin(), want.end(), nb.id);
      // Scores are inner products (not negated distances).
      float s = 0;
      for (int j = 0; j < d; ++j) s += data[nb.id * d + j] * queries[q * d + j];
      EXPECT_NEAR(nb.score, s, 1e-4);
    }
  }
  const double recall = hits / (10.0 * nq);
  EXPECT_GE(recall, 0.9);

  // A larger per-call ef_search is honoured (FAISS 1.7.3 caps it at the
  // index's own knob unless VectorIndex raises that).
  SearchParams wide;
  wide.ef_search = 200;
  int wide_hits = 0;
  for (int q = 0; q < nq; ++q) {
    auto got = index->Search(queries.data() + q * d, 10, {}, wide);
    ASSERT_TRUE(got.ok());
    const auto want = Ids(BruteForce(data, n, d, queries.data() + q * d, 10));
    for (const Neighbor& nb : *got) wide_hits += std::count(want.begin(), want.end(), nb.id);
  }
  EXPECT_GE(wide_hits, hits);
  EXPECT_GE(wide_hits / (10.0 * nq), 0.99);
}

// Excluded ids never come back, and k results still do (over-fetch), flat and HNSW.
TEST(VectorIndex, ExclusionStillReturnsK) {
  const int64_t n = 3000;
  const int d = 16;
  const auto data = RandomVectors(n, d, 21, true);
  const auto query = RandomVectors(1, d, 22, true);
  for (int64_t flat_max : {int64_t{100000}, int64_t{100}}) {
    VectorIndexOptions options;
    options.flat_max_items = flat_max;
    auto index = VectorIndex::Build(data, n, d, options);
    ASSERT_TRUE(index.ok()) << index.status();
    const auto top = Ids(BruteForce(data, n, d, query.data(), 8));
    std::vector<int64_t> exclude(top.begin(), top.begin() + 5);
    exclude.push_back(n - 1);
    std::sort(exclude.begin(), exclude.end());
    auto got = index->Search(query.data(), 10, exclude);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 10u);
    for (const Neighbor& nb : *got) {
      EXPECT_FALSE(std::binary_search(exclude.begin(), exclude.end(), nb.id)) << nb.id;
    }
    if (index->is_exact()) {
      EXPECT_EQ(Ids(*got), Ids(BruteForce(data, n, d, query.data(), 10, exclude)));
    }
  }
}

// HNSW with an exclusion list far longer than k that covers the query's
// whole neighbourhood (a heavy user's history around their profile): the
// first, short over-fetch comes back short and the search widens until k
// non-excluded results come back; none of them excluded.
TEST(VectorIndex, HnswLongExclusionsStillReturnK) {
  const int64_t n = 4000;
  const int d = 16;
  const auto data = RandomVectors(n, d, 71, true);
  VectorIndexOptions options;
  options.flat_max_items = 100;
  auto index = VectorIndex::Build(data, n, d, options);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->kind(), "hnsw");
  const float* q = data.data() + 5 * d;
  // The 1,500 nearest rows to q, excluded.
  std::vector<int64_t> exclude = Ids(BruteForce(data, n, d, q, 1500));
  std::sort(exclude.begin(), exclude.end());
  for (int k : {1, 10, 50}) {
    auto got = index->Search(q, k, exclude);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(static_cast<int>(got->size()), k);
    for (const Neighbor& nb : *got) {
      EXPECT_FALSE(std::binary_search(exclude.begin(), exclude.end(), nb.id)) << nb.id;
    }
  }
  // Excluding all but 3 rows: those 3 come back.
  std::vector<int64_t> almost_all;
  for (int64_t i = 3; i < n; ++i) almost_all.push_back(i);
  auto three = index->Search(q, 10, almost_all);
  ASSERT_TRUE(three.ok());
  EXPECT_LE(three->size(), 3u);
}

// Excluding everything leaves nothing; k larger than the index returns all rows.
TEST(VectorIndex, SmallIndexEdgeCases) {
  const auto data = RandomVectors(5, 4, 31, false);
  auto index = VectorIndex::Build(data, 5, 4, {});
  ASSERT_TRUE(index.ok());
  auto all = index->Search(data.data(), 50, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5u);
  auto none = index->Search(data.data(), 3, {0, 1, 2, 3, 4});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto empty = VectorIndex::Build({}, 0, 4, {});
  ASSERT_TRUE(empty.ok());
  auto nothing = empty->Search(data.data(), 3, {});
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());
}

// The batched search gives the same lists as one search per query.
TEST(VectorIndex, BatchMatchesSingle) {
  const int64_t n = 2000;
  const int d = 16;
  const auto data = RandomVectors(n, d, 41, true);
  const auto queries = RandomVectors(30, d, 42, true);
  for (int64_t flat_max : {int64_t{100000}, int64_t{100}}) {
    VectorIndexOptions options;
    options.flat_max_items = flat_max;
    auto index = VectorIndex::Build(data, n, d, options);
    ASSERT_TRUE(index.ok());
    SearchParams params;
    params.ef_search = 128;
    auto batch = index->SearchBatch(queries.data(), 30, 7, params);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->size(), 30u);
    for (int q = 0; q < 30; ++q) {
      auto single = index->Search(queries.data() + q * d, 7, {}, params);
      ASSERT_TRUE(single.ok());
      EXPECT_EQ(Ids((*batch)[q]), Ids(*single)) << "query " << q;
    }
  }
}

// Save then Load gives an index with identical results (flat and HNSW).
TEST(VectorIndex, SaveLoadRoundTrip) {
  const int64_t n = 2500;
  const int d = 16;
  const auto data = RandomVectors(n, d, 51, true);
  const auto queries = RandomVectors(10, d, 52, true);
  for (int64_t flat_max : {int64_t{100000}, int64_t{100}}) {
    VectorIndexOptions options;
    options.flat_max_items = flat_max;
    auto index = VectorIndex::Build(data, n, d, options);
    ASSERT_TRUE(index.ok());
    const std::string path =
        TempPath("vector_index_roundtrip_" + std::to_string(flat_max) + ".faiss");
    ASSERT_TRUE(index->Save(path).ok());
    auto loaded = VectorIndex::Load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->is_exact(), index->is_exact());
    EXPECT_EQ(loaded->size(), n);
    EXPECT_EQ(loaded->dim(), d);
    for (int q = 0; q < 10; ++q) {
      auto a = index->Search(queries.data() + q * d, 10, {3, 5});
      auto b = loaded->Search(queries.data() + q * d, 10, {3, 5});
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_EQ(a->size(), b->size());
      for (size_t i = 0; i < a->size(); ++i) {
        EXPECT_EQ((*a)[i].id, (*b)[i].id);
        EXPECT_EQ((*a)[i].score, (*b)[i].score);
      }
    }
  }
}

// Above flat_max_items, heavy-tailed norms keep the index exact ("pruned",
// the norm-ordered scan): brute-force results, a measured probe fraction, and a
// Save/Load round trip that serves the same answers with flat_by_norm (and,
// without it, the plain flat scan). Unit vectors fall back to HNSW.
TEST(VectorIndex, PrunedExactForHeavyTailedNorms) {
  const int64_t n = 6000;
  const int d = 16;
  std::vector<float> data = RandomVectors(n, d, 61, false);
  std::mt19937_64 rng(62);
  std::uniform_real_distribution<double> u(1e-6, 1.0);
  for (int64_t i = 0; i < n; ++i) {
    const float scale = static_cast<float>(std::min(5.0, 0.01 * std::pow(u(rng), -1.0)));
    for (int j = 0; j < d; ++j) data[i * d + j] *= scale;
  }
  VectorIndexOptions options;
  options.flat_max_items = 1000;
  options.pruned_probe_k = 10;
  auto index = VectorIndex::Build(data, n, d, options);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->kind(), "pruned");
  EXPECT_TRUE(index->is_exact());
  EXPECT_EQ(index->search_kind().rfind("pruned_scan/", 0), 0u) << index->search_kind();
  EXPECT_GT(index->probe_scan_fraction(), 0.0);
  EXPECT_LE(index->probe_scan_fraction(), options.pruned_max_scan_fraction);
  const auto queries = RandomVectors(10, d, 63, false);
  const std::string path = TempPath("vector_index_pruned.faiss");
  ASSERT_TRUE(index->Save(path).ok());
  VectorIndexOptions by_norm;
  by_norm.flat_by_norm = true;
  auto loaded = VectorIndex::Load(path, by_norm);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->kind(), "pruned");
  auto plain = VectorIndex::Load(path);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->kind(), "flat");
  for (int q = 0; q < 10; ++q) {
    const std::vector<int64_t> exclude = {1, 2, 3, 500};
    const auto want = BruteForce(data, n, d, queries.data() + q * d, 20, exclude);
    for (const VectorIndex* vi : {&*index, &*loaded, &*plain}) {
      auto got = vi->Search(queries.data() + q * d, 20, exclude);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(Ids(*got), Ids(want)) << vi->kind() << " query " << q;
    }
  }
  // No pruning asked for: HNSW.
  options.pruned_max_scan_fraction = 0;
  auto hnsw = VectorIndex::Build(data, n, d, options);
  ASSERT_TRUE(hnsw.ok());
  EXPECT_EQ(hnsw->kind(), "hnsw");
  // Unit vectors cannot prune: HNSW.
  const auto unit = RandomVectors(n, d, 64, true);
  options.pruned_max_scan_fraction = 0.1;
  auto unit_index = VectorIndex::Build(unit, n, d, options);
  ASSERT_TRUE(unit_index.ok());
  EXPECT_EQ(unit_index->kind(), "hnsw");
  EXPECT_EQ(unit_index->probe_scan_fraction(), 0.0);
}

// Garbage, truncated and missing files are errors, not crashes.
TEST(VectorIndex, LoadRejectsCorruptFiles) {
  const std::string garbage = TempPath("vector_index_garbage.faiss");
  {
    std::ofstream out(garbage, std::ios::binary);
    std::mt19937 rng(3);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(rng() & 0xff));
  }
  EXPECT_FALSE(VectorIndex::Load(garbage).ok());

  const std::string text = TempPath("vector_index_text.faiss");
  {
    std::ofstream out(text);
    out << "this is not an index\n";
  }
  EXPECT_FALSE(VectorIndex::Load(text).ok());

  const auto data = RandomVectors(300, 8, 61, true);
  auto index = VectorIndex::Build(data, 300, 8, {});
  ASSERT_TRUE(index.ok());
  const std::string full = TempPath("vector_index_full.faiss");
  ASSERT_TRUE(index->Save(full).ok());
  std::ifstream in(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = TempPath("vector_index_truncated.faiss");
  {
    std::ofstream out(truncated, std::ios::binary);
    out.write(bytes.data(), bytes.size() / 2);
  }
  auto t = VectorIndex::Load(truncated);
  EXPECT_FALSE(t.ok());

  EXPECT_EQ(VectorIndex::Load(TempPath("no_such_index.faiss")).status().code(),
            absl::StatusCode::kNotFound);
}

// Bad arguments are INVALID_ARGUMENT: k <= 0, null query, unsorted exclusions, bad sizes.
TEST(VectorIndex, RejectsBadArguments) {
  const auto data = RandomVectors(50, 4, 71, true);
  auto index = VectorIndex::Build(data, 50, 4, {});
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->Search(data.data(), 0, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Search(data.data(), -3, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Search(nullptr, 5, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Search(data.data(), 5, {4, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->SearchBatch(data.data(), 2, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(VectorIndex::Build(data, 51, 4, {}).ok());
  EXPECT_FALSE(VectorIndex::Build(data, 50, 0, {}).ok());
  VectorIndex unbuilt;
  EXPECT_FALSE(unbuilt.Search(data.data(), 5, {}).ok());
}

}  // namespace
}  // namespace recsys
