// Exact maximum-inner-product search by one sequential scan of a row-major
// matrix: the flat (exact) search behind VectorIndex.
//
// Why not faiss::IndexFlatIP: Debian's libfaiss 1.7.3 is compiled for baseline
// x86-64 (SSE2 only); its single-query flat scan of 1M x 64 floats takes
// 2.6-3.7x the memory-bandwidth floor here (docs/benchmarks.md). This scan
// computes blocks of 8 rows with AVX2/FMA (runtime dispatch, portable fallback)
// and keeps the top k in a threshold-filtered buffer, so one query costs about
// one pass over the n * d floats.
//
// Results: best first by score; equal scores are ordered by smaller id first,
// and a cut through a group of equal scores keeps the smallest ids. FAISS 1.7.3's
// IndexFlatIP keeps the same ids but lists equal scores larger id first: that
// order inside a tie is the only difference from FAISS besides rounding
// (tests/common/index/exact_scan_test.cc). The score of a row is a deterministic
// function of (row, query, kernel): identical rows get bit-identical scores, and
// repeated calls give identical lists. The AVX2 and portable kernels round differently
// (fused vs separate multiply-add), so scores may differ in the last bits between
// machines with and without AVX2, and with them the order of near-ties. Rows
// whose score is NaN or -infinity (only possible with non-finite inputs) are
// never returned.
//
// Cost: one query reads n * d floats once — memory bound: 1M x 64 in ~6.9 ms on
// one core here, where one plain pass over the floats takes ~6.4 ms (FAISS:
// ~17-21 ms) — plus O(k log k) selection. A batch of queries is blocked over rows
// (256 KiB blocks stay in L2), so the matrix streams from memory once per batch
// and the cost becomes compute bound: ~2.1 ms per query for 1M x 64 in a batch
// of 32 (docs/benchmarks.md).
//
// Thread-safety: every function is reentrant; ExactScan is immutable after
// construction and its const methods are safe to call concurrently. Nothing here
// starts threads: callers parallelise across queries.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

namespace recsys {

struct Neighbor {
  int64_t id;   // row of the vector (dense item index)
  float score;  // inner product
};

enum class ScanKernel {
  kAuto,      // AVX2+FMA when the CPU (and OS) supports it, else portable
  kPortable,  // plain C++ (whatever the compiler vectorises for the baseline ISA)
  kAvx2,      // AVX2+FMA; falls back to portable on a CPU without it
};

// The kernel kAuto resolves to on this machine.
ScanKernel DetectScanKernel();
// "avx2+fma" or "portable": the kernel `kernel` resolves to here.
const char* ScanKernelName(ScanKernel kernel = ScanKernel::kAuto);

// Top-k rows of `data` (n x d row-major, size n * d) by inner product with
// `query` (size d), best first, ties by smaller id. Ids in `exclude` (sorted
// ascending, may be empty) are never returned; k results come back when n minus
// the excluded rows allows. k < 1, n < 1 or d < 1 → empty.
std::vector<Neighbor> ExactTopK(const float* data, int64_t n, int d, const float* query, int k,
                                std::span<const int64_t> exclude = {},
                                ScanKernel kernel = ScanKernel::kAuto);

// ExactTopK for each of the `nq` queries (size nq * d), without exclusions;
// results equal one ExactTopK call per query (same kernel), computed with one
// pass over `data` per batch.
std::vector<std::vector<Neighbor>> ExactTopKBatch(const float* data, int64_t n, int d,
                                                  const float* queries, int64_t nq, int k,
                                                  ScanKernel kernel = ScanKernel::kAuto);

// The order an ExactScan stores and walks its rows in.
enum class ScanOrder {
  kAsGiven,  // row i at position i; every search reads all rows
  // Rows sorted by Euclidean norm, largest first (ties by smaller id). A search
  // walks them in that order and stops at the first row whose bound
  // |query| * |row| (Cauchy-Schwarz) cannot beat the k-th best score found so
  // far: exact maximum-inner-product search that reads only the large-norm
  // head when norms are heavy-tailed, as ALS item factors are (their norm
  // grows with an item's popularity). At 10^6 ALS factors of 64 dimensions it
  // scores ~3% of the rows for an item's own vector as query, <1% for a user's.
  // Unit-norm vectors gain nothing (every row is read).
  kByNormDescending,
};

// An immutable copy of n x d row-major vectors (64-byte aligned) searched with
// ExactTopK / ExactTopKBatch (kAsGiven) or the norm-pruned walk
// (kByNormDescending). Memory: n * d * 4 bytes, plus 20 bytes per row for the
// norm order.
//
// kByNormDescending returns the same ids and scores as kAsGiven except where
// scores tie: results are still listed ties-by-smaller-id, but a cut through
// a group of equal scores keeps the rows met first in norm order (identical
// rows, having equal norms, keep the smallest ids as before).
class ExactScan {
 public:
  ExactScan() = default;
  // Copies `data` (size n * d). n >= 0, d >= 1 (checked by the caller).
  ExactScan(const float* data, int64_t n, int d, ScanOrder order = ScanOrder::kAsGiven);

  // `rows_scored`, when given, receives how many rows were scored (n for
  // kAsGiven).
  std::vector<Neighbor> Search(const float* query, int k, std::span<const int64_t> exclude = {},
                               ScanKernel kernel = ScanKernel::kAuto,
                               int64_t* rows_scored = nullptr) const;
  // kAsGiven: one blocked pass for the whole batch; kByNormDescending: one
  // pruned walk per query (cheaper than a full pass when pruning works).
  std::vector<std::vector<Neighbor>> SearchBatch(const float* queries, int64_t nq, int k,
                                                 ScanKernel kernel = ScanKernel::kAuto) const;

  // The rows in stored order: the given order for kAsGiven, by norm for
  // kByNormDescending (id of stored row p: id_at(p)).
  const float* data() const { return rows_.get(); }
  int64_t size() const { return n_; }
  int dim() const { return d_; }
  ScanOrder order() const { return ids_.empty() ? ScanOrder::kAsGiven : ScanOrder::kByNormDescending; }
  int64_t id_at(int64_t position) const { return ids_.empty() ? position : ids_[position]; }
  // Copies the vectors back in id order (n * d floats).
  std::vector<float> RowsById() const;
  // The vector of row `id` (0 <= id < size()), d floats.
  const float* Row(int64_t id) const {
    return rows_.get() + (positions_.empty() ? id : positions_[id]) * d_;
  }

 private:
  std::vector<Neighbor> SearchByNorm(const float* query, int k, std::span<const int64_t> exclude,
                                     ScanKernel kernel, int64_t* rows_scored) const;

  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> rows_;
  int64_t n_ = 0;
  int d_ = 0;
  // kByNormDescending only: stored position -> id, id -> stored position, and
  // the norm of each stored row (non-increasing).
  std::vector<int64_t> ids_;
  std::vector<int64_t> positions_;
  std::vector<float> norms_;
};

}  // namespace recsys
