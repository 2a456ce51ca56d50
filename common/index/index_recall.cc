#include "common/index/index_recall.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/index/exact_scan.h"
#include "common/status.h"

namespace recsys {

std::vector<float> SampleRows(std::span<const float> vectors, int64_t n, int d, int count,
                              uint64_t seed) {
  std::vector<int64_t> rows(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::iota(rows.begin(), rows.end(), 0);
  if (count < n) {
    // A partial Fisher-Yates shuffle: the first `count` rows, then in order.
    std::mt19937_64 rng(seed);
    for (int i = 0; i < count; ++i) {
      std::uniform_int_distribution<int64_t> pick(i, n - 1);
      std::swap(rows[i], rows[pick(rng)]);
    }
    rows.resize(std::max(count, 0));
    std::sort(rows.begin(), rows.end());
  }
  std::vector<float> out;
  out.reserve(rows.size() * d);
  for (int64_t r : rows) {
    out.insert(out.end(), vectors.begin() + r * d, vectors.begin() + (r + 1) * d);
  }
  return out;
}

absl::StatusOr<double> MeasureRecall(const VectorIndex& index, std::span<const float> vectors,
                                     int64_t n, int d, std::span<const float> queries, int k,
                                     const SearchParams& params) {
  if (d < 1 || queries.size() % d != 0 || vectors.size() != static_cast<size_t>(n * d)) {
    return absl::InvalidArgumentError(absl::StrCat("MeasureRecall: ", vectors.size(),
                                                   " vector floats, ", queries.size(),
                                                   " query floats, n ", n, ", d ", d));
  }
  if (index.size() != n || index.dim() != d) {
    return absl::InvalidArgumentError(absl::StrCat("MeasureRecall: index holds ", index.size(),
                                                   " x ", index.dim(), ", vectors ", n, " x ", d));
  }
  const int64_t nq = static_cast<int64_t>(queries.size()) / d;
  k = static_cast<int>(std::min<int64_t>(k, n));
  if (nq == 0 || k < 1) return 1.0;
  double sum = 0;
  constexpr int64_t kBatch = 64;
  for (int64_t q0 = 0; q0 < nq; q0 += kBatch) {
    const int64_t count = std::min(kBatch, nq - q0);
    const float* batch = queries.data() + q0 * d;
    const std::vector<std::vector<Neighbor>> exact =
        ExactTopKBatch(vectors.data(), n, d, batch, count, k);
    for (int64_t q = 0; q < count; ++q) {
      ASSIGN_OR_RETURN(const std::vector<Neighbor> got, index.Search(batch + q * d, k, {}, params));
      absl::flat_hash_set<int64_t> truth;
      for (const Neighbor& e : exact[q]) truth.insert(e.id);
      int hits = 0;
      for (const Neighbor& g : got) hits += truth.contains(g.id);
      sum += truth.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(truth.size());
    }
  }
  return sum / static_cast<double>(nq);
}

absl::StatusOr<IndexRecall> TuneIndex(VectorIndex* index, std::span<const float> vectors, int64_t n,
                                      int d, const RecallOptions& options) {
  IndexRecall r;
  r.kind = index->kind();
  r.scan_fraction = index->probe_scan_fraction();
  r.k = static_cast<int>(std::min<int64_t>(options.k, n));
  const std::vector<float> queries = SampleRows(vectors, n, d, options.queries, options.seed);
  r.queries = static_cast<int>(queries.size() / std::max(d, 1));
  if (index->is_exact() || options.ef_ladder.empty()) {
    ASSIGN_OR_RETURN(r.recall, MeasureRecall(*index, vectors, n, d, queries, options.k));
    r.ef_search = index->is_exact() ? 0 : index->ef_search();
    r.reached_target = r.recall >= options.target_recall;
    return r;
  }
  for (int ef : options.ef_ladder) {
    index->SetEfSearch(ef);
    ASSIGN_OR_RETURN(r.recall, MeasureRecall(*index, vectors, n, d, queries, options.k));
    r.ef_search = ef;
    if (r.recall >= options.target_recall) {
      r.reached_target = true;
      break;
    }
  }
  return r;
}

std::vector<std::pair<std::string, std::string>> IndexRecallParams(const std::string& name,
                                                                   const IndexRecall& r) {
  const std::string p = absl::StrCat("index.", name, ".");
  return {{IndexKindKey(name), r.kind},
          {p + "k", absl::StrCat(r.k)},
          {p + "queries", absl::StrCat(r.queries)},
          {p + "recall", absl::StrFormat("%.4f", r.recall)},
          {IndexEfSearchKey(name), absl::StrCat(r.ef_search)},
          {p + "reached_target", r.reached_target ? "1" : "0"},
          {p + "scan_fraction", absl::StrFormat("%.4f", r.scan_fraction)}};
}

std::string IndexEfSearchKey(const std::string& name) {
  return absl::StrCat("index.", name, ".ef_search");
}

}  // namespace recsys

namespace recsys {
std::string IndexKindKey(const std::string& name) { return absl::StrCat("index.", name, ".kind"); }
}  // namespace recsys
