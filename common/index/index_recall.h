// How good an approximate index is, measured: recall@k of a VectorIndex
// against the exact scan over the same vectors, on a deterministic sample of
// queries; and, for HNSW, the smallest ef_search on a ladder that reaches a
// target recall. The trainer runs TuneIndex on each index it builds and
// records the result in the manifest ("index.<name>.*" parameters); serving
// loads the index with the recorded ef_search.
//
// Recall@k of one query = |approximate top-k ∩ exact top-k| / |exact top-k|,
// averaged over the queries. The exact side is ExactTopKBatch (one pass over
// the vectors per 64 queries). HNSW searches use ef = max(k, ladder value),
// as VectorIndex::Search does, so ladder values below k all measure ef = k.
// Cost: O(queries * n * d) for the exact side plus the index's searches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/index/vector_index.h"

namespace recsys {

struct RecallOptions {
  int queries = 200;  // sampled rows of the vectors (all rows when fewer)
  int k = 200;        // recall@k (clamped to the number of vectors)
  uint64_t seed = 20240611;
  std::vector<int> ef_ladder = {64, 128, 256, 512};  // ascending
  double target_recall = 0.95;
};

struct IndexRecall {
  std::string kind;  // VectorIndex::kind(): "flat", "pruned" or "hnsw"
  int k = 0;         // recall@k
  int queries = 0;
  double recall = 0;  // at ef_search
  int ef_search = 0;  // HNSW: chosen; 0 for flat
  bool reached_target = false;
  // "pruned": the mean share of rows a search scored at Build; 0 otherwise.
  double scan_fraction = 0;
};

// `count` distinct rows of `vectors` (n x d row-major) chosen by `seed`, as
// a count x d query matrix (all n rows, in order, when count >= n).
std::vector<float> SampleRows(std::span<const float> vectors, int64_t n, int d, int count,
                              uint64_t seed);

// Mean recall@k of `index` searched with `params` against the exact top-k of
// `vectors` (the n x d vectors the index holds), over `queries` (nq x d).
absl::StatusOr<double> MeasureRecall(const VectorIndex& index, std::span<const float> vectors,
                                     int64_t n, int d, std::span<const float> queries, int k,
                                     const SearchParams& params = {});

// Measures `index` (built over `vectors`, n x d) on options.queries rows of
// `vectors`. Flat: the recall (1 up to ties at the k-th score), ef_search 0.
// HNSW: walks the ladder and sets the index's ef_search (VectorIndex::SetEfSearch)
// to the first value whose recall reaches the target, or to the last value
// when none does (reached_target false). IMPORTANT: mutates `index`: call
// before it is shared.
absl::StatusOr<IndexRecall> TuneIndex(VectorIndex* index, std::span<const float> vectors, int64_t n,
                                      int d, const RecallOptions& options = {});

// The manifest parameters describing `r` for index `name` ("content", "als"):
// index.<name>.kind / .recall (recall@k) / .k / .queries / .ef_search /
// .reached_target / .scan_fraction. Serving reads .kind ("pruned" selects the
// norm-ordered scan) and .ef_search.
std::vector<std::pair<std::string, std::string>> IndexRecallParams(const std::string& name,
                                                                   const IndexRecall& r);
// The key of the ef_search serving uses for index `name`.
std::string IndexEfSearchKey(const std::string& name);
// The key of index `name`'s kind.
std::string IndexKindKey(const std::string& name);

}  // namespace recsys
