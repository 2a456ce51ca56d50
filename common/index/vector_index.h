// The one class that calls FAISS. Wraps an inner-product index over L2-normalised
// or raw vectors; every FAISS exception becomes an absl::Status here.
//
// Thread-safety: Search is const and safe to call concurrently (per-call search
// parameters, never mutation of the shared index).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace faiss {
struct Index;
}

namespace recsys {

struct VectorIndexOptions {
  // Catalogues with at most this many vectors use an exact flat index; larger
  // ones use HNSW (approximate).
  int64_t flat_max_items = 200000;
  int hnsw_m = 32;
  int hnsw_ef_construction = 80;
};

struct SearchParams {
  // HNSW only: candidate list size at search time (>= k). 0 = max(k, 64).
  int ef_search = 0;
};

struct Neighbor {
  int64_t id;   // row of the vector (dense item index)
  float score;  // inner product
};

class VectorIndex {
 public:
  VectorIndex();
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;

  // Builds an inner-product index over `n` row-major vectors of dimension `d`
  // (`vectors` has size n * d). Row i gets id i.
  static absl::StatusOr<VectorIndex> Build(const std::vector<float>& vectors, int64_t n, int d,
                                           const VectorIndexOptions& options);
  // FAISS's own file format.
  absl::Status Save(const std::string& path) const;
  static absl::StatusOr<VectorIndex> Load(const std::string& path);

  // Top-k rows by inner product with `query` (size d), best first. Results
  // with ids in `exclude` (sorted ascending, may be empty) are dropped; the
  // search over-fetches by |exclude| so k results come back when available.
  absl::StatusOr<std::vector<Neighbor>> Search(const float* query, int k,
                                               const std::vector<int64_t>& exclude,
                                               const SearchParams& params = {}) const;
  // Batched form: `queries` is nq * d; one result list per query.
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(const float* queries, int64_t nq,
                                                                 int k,
                                                                 const SearchParams& params = {}) const;

  int dim() const;
  int64_t size() const;
  bool is_exact() const;

 private:
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace recsys
