// The one class that calls FAISS. Wraps an inner-product index over L2-normalised
// or raw vectors; every FAISS exception becomes an absl::Status here.
//
// Large catalogues whose vectors have heavy-tailed norms (ALS factors) stay
// exact: the norm-ordered scan ("pruned", exact_scan.h ScanOrder) reads only
// the rows that can still win. Build measures it and falls back to HNSW when
// it would read more than VectorIndexOptions::pruned_max_scan_fraction.
//
// Exact (flat) indexes are searched by default with our own vectorised scan
// (exact_scan.h) over a row-major copy of the vectors that VectorIndex keeps;
// the FAISS flat index then exists only transiently, to read and write FAISS's
// file format. Why: Debian's libfaiss is built for baseline x86-64 and its
// single-query flat search of 1M x 64 floats is 2.6-3.7x the memory-bandwidth
// floor; the scan is within ~1.1x of it (docs/benchmarks.md; 6-7x faster than
// FAISS on the 9.7k-item ml-latest-small indexes). Results equal
// FAISS's IndexFlatIP in ids and order except among equal (or, through
// rounding, nearly equal) scores: equal scores are listed smaller id first
// (FAISS lists them larger id first), deterministically.
// FlatSearch::kFaiss keeps the FAISS path (benchmarks, comparisons).
//
// Thread-safety: Search is const and safe to call concurrently (per-call search
// parameters, never mutation of the shared index).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/index/exact_scan.h"  // Neighbor

namespace faiss {
struct Index;
}

namespace recsys {

// Who searches an exact (flat) index.
enum class FlatSearch {
  kExactScan,  // ExactScan over VectorIndex's own copy (default; see above)
  kFaiss,      // faiss::IndexFlatIP::search (per query below 20 queries, BLAS above)
};

struct VectorIndexOptions {
  // Catalogues with at most this many vectors use an exact flat index; larger
  // ones use HNSW (approximate).
  int64_t flat_max_items = 200000;
  FlatSearch flat_search = FlatSearch::kExactScan;
  // Above flat_max_items, Build first tries the exact norm-ordered scan
  // (ScanOrder::kByNormDescending, exact_scan.h): it keeps it ("pruned", exact,
  // no graph) when, with up to 200 of the rows themselves as queries at k =
  // pruned_probe_k, a search scores at most this share of the rows on average;
  // otherwise HNSW. Heavy-tailed norms (ALS factors) pass, unit vectors
  // (content) do not. 0 = always HNSW.
  double pruned_max_scan_fraction = 0.1;
  int pruned_probe_k = 200;
  // Load: serve a flat file with the norm-ordered scan (what Build chose:
  // kind() "pruned", recorded in the manifest by the trainer).
  bool flat_by_norm = false;
  // Measured on 10^6 96-d unit content vectors (synthetic catalogue): M 16,
  // efConstruction 40 reaches recall@200 0.92 only at ef_search 1024; 100
  // reaches 0.966 at ef_search 200 (~0.6 ms a query) for ~2.5x the build time.
  int hnsw_m = 16;
  int hnsw_ef_construction = 100;
  // HNSW: the largest per-call ef_search that fully takes effect (FAISS 1.7.3
  // sizes the search heap from the index's own efSearch, set to this at Build
  // and Load). Larger costs time at every ef (~50% at ef 64 for 256 vs 64).
  int hnsw_ef_search_max = 256;
  // HNSW: the ef_search used when SearchParams::ef_search is 0 (0 = 64), e.g.
  // the one the trainer measured (index_recall.h). Load raises the ceiling
  // (hnsw_ef_search_max) to it when needed. Ignored by flat indexes.
  int hnsw_ef_search = 0;
};

struct SearchParams {
  // HNSW only: candidate list size at search time; max(k + |exclude|, this)
  // is used, so values below k change nothing. 0 = the index's ef_search()
  // (64 unless set). Fully honoured up to VectorIndexOptions::hnsw_ef_search_max.
  int ef_search = 0;
};

class VectorIndex {
 public:
  VectorIndex();
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;

  // Builds an inner-product index over `n` row-major vectors of dimension `d`
  // (`vectors` has size n * d). Row i gets id i.
  static absl::StatusOr<VectorIndex> Build(std::span<const float> vectors, int64_t n, int d,
                                           const VectorIndexOptions& options);
  // FAISS's own file format (a flat index is written as faiss::IndexFlatIP
  // whichever FlatSearch serves it). Save of an exact-scan index briefly holds
  // a second copy of the vectors.
  absl::Status Save(const std::string& path) const;
  // Of `options`, only flat_search (flat files) and hnsw_ef_search_max (HNSW
  // files) apply.
  static absl::StatusOr<VectorIndex> Load(const std::string& path,
                                          const VectorIndexOptions& options = {});

  // Top-k rows by inner product with `query` (size d), best first. Results
  // with ids in `exclude` (sorted ascending, may be empty) are dropped; k
  // results come back when available (HNSW over-fetches by min(|exclude|, k),
  // then by doubling margins up to |exclude| while short; the exact
  // scan skips excluded rows as it goes). Exact: ties by smaller id; rows
  // scoring NaN or -inf (non-finite inputs only) are not returned.
  absl::StatusOr<std::vector<Neighbor>> Search(const float* query, int k,
                                               const std::vector<int64_t>& exclude,
                                               const SearchParams& params = {}) const;
  // Batched form: `queries` is nq * d; one result list per query, equal to
  // Search's. Exact scan: one pass over the vectors per batch, on the caller's
  // thread (FAISS's flat batch uses OpenMP threads and, from 20 queries, BLAS).
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      const float* queries, int64_t nq, int k, const SearchParams& params = {}) const;

  // A new exact index over the rows `ids` (ascending, each in 0..size()-1):
  // row ids[j] gets id j, and the scan order (flat or norm-ordered) is kept.
  // Because the ids keep their order, ties among equal scores break as in
  // this index. Unimplemented for HNSW and FAISS-searched flat indexes (the
  // caller then filters this index's results). Copies |ids| * d floats.
  absl::StatusOr<VectorIndex> Subset(std::span<const int64_t> ids) const;

  int dim() const;
  int64_t size() const;
  bool is_exact() const;
  // "flat" (exact, every row), "pruned" (exact, norm-ordered walk), "hnsw"
  // ("" when empty).
  std::string kind() const;
  // "pruned" built here: the mean share of rows a probe search scored at Build
  // (0 otherwise, and after Load).
  double probe_scan_fraction() const { return probe_scan_fraction_; }
  // HNSW: the ef_search a search with SearchParams::ef_search 0 uses (0 = 64).
  int ef_search() const { return ef_search_; }
  // Sets ef_search() and raises the index's ceiling (hnsw_ef_search_max) to
  // it when below. IMPORTANT: mutates the index: only before it is shared
  // (Search may not run concurrently). No effect on flat indexes.
  void SetEfSearch(int ef_search);
  // The search path: "exact_scan/avx2+fma", "exact_scan/portable",
  // "pruned_scan/avx2+fma", "pruned_scan/portable", "faiss_flat" or
  // "faiss_hnsw" ("" when empty).
  std::string search_kind() const;

 private:
  // index_->search for nq queries (fetch results each) with the HNSW ef this
  // call uses: max(fetch, params.ef_search, else ef_search(), else 64).
  absl::Status FaissSearch(int64_t nq, const float* queries, int64_t fetch,
                           const SearchParams& params, float* scores, int64_t* labels) const;

  // Exactly one is set once built or loaded: scan_ for a flat index searched
  // by ExactScan; index_ for HNSW or a flat index searched by FAISS.
  std::unique_ptr<faiss::Index> index_;
  std::unique_ptr<const ExactScan> scan_;
  int ef_search_ = 0;
  double probe_scan_fraction_ = 0;
};

}  // namespace recsys
