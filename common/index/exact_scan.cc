#include "common/index/exact_scan.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

namespace recsys {
namespace {

// Rows per cache block of the batched scan: 256 KiB of rows stay in L2 (1 MiB
// per core here) while every query of the batch runs over them.
constexpr int64_t kBatchBlockBytes = 256 * 1024;
// Software prefetch distance of the scans, in rows (16 KiB at d = 64).
constexpr int64_t kPrefetchRows = 64;

bool Better(const Neighbor& a, const Neighbor& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// The best k of the (id, score) pairs pushed so far, for pushes in increasing id
// order. Scores are filtered against threshold(): once k are kept, it is the
// k-th best score, and a later row (larger id) needs a strictly higher score to
// enter — an equal score loses the tie to every kept row. Pushes go to a buffer
// of capacity ~2k that is cut back to the best k (nth_element) when full, so a
// push costs O(1) amortised.
class TopKBuffer {
 public:
  TopKBuffer(int k, int64_t n)
      : k_(static_cast<size_t>(k)),
        capacity_(static_cast<int64_t>(k) >= n
                      ? static_cast<size_t>(n) + 1  // never full: keep everything
                      : std::max<size_t>(2 * k_, k_ + 256)) {
    buffer_.reserve(std::min<size_t>(capacity_, static_cast<size_t>(n)));
  }

  float threshold() const { return threshold_; }

  void Push(int64_t id, float score) {
    buffer_.push_back({id, score});
    if (buffer_.size() == capacity_) Cut();
  }

  std::vector<Neighbor> Finish() {
    if (buffer_.size() > k_) {
      std::nth_element(buffer_.begin(), buffer_.begin() + (k_ - 1), buffer_.end(), Better);
      buffer_.resize(k_);
    }
    std::sort(buffer_.begin(), buffer_.end(), Better);
    return std::move(buffer_);
  }

 private:
  void Cut() {
    std::nth_element(buffer_.begin(), buffer_.begin() + (k_ - 1), buffer_.end(), Better);
    buffer_.resize(k_);
    threshold_ = buffer_[k_ - 1].score;  // the worst kept
  }

  const size_t k_;
  const size_t capacity_;
  std::vector<Neighbor> buffer_;
  float threshold_ = -std::numeric_limits<float>::infinity();
};

// One query's scan state: its top-k and its exclusions (sorted ids, walked
// forward as the offered ids increase).
struct QueryScan {
  QueryScan(int k, int64_t n, std::span<const int64_t> exclude) : top(k, n), exclude(exclude) {}

  void Offer(int64_t id, float score) {
    if (score <= top.threshold()) return;  // raised since the block was compared
    if (!exclude.empty()) {
      while (next_excluded < exclude.size() && exclude[next_excluded] < id) ++next_excluded;
      if (next_excluded < exclude.size() && exclude[next_excluded] == id) return;
    }
    top.Push(id, score);
  }

  TopKBuffer top;
  std::span<const int64_t> exclude;
  size_t next_excluded = 0;
};

// ---------------------------------------------------------------------------
// Portable kernel. Each row's score uses 8 lane sums (lane = column mod 8) and
// the AVX2 kernel's reduction tree, so both kernels add in the same order; they
// differ only in the rounding of the multiply-add (separate here, fused there).

inline float ReduceLanes(const float* l) {
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

void Block8Portable(const float* rows, int d, const float* q, float* out) {
  for (int r = 0; r < 8; ++r) {
    const float* x = rows + static_cast<int64_t>(r) * d;
    float lane[8] = {};
    int j = 0;
    for (; j + 8 <= d; j += 8) {
      for (int t = 0; t < 8; ++t) lane[t] += x[j + t] * q[j + t];
    }
    for (int t = 0; j + t < d; ++t) lane[t] += x[j + t] * q[j + t];
    out[r] = ReduceLanes(lane);
  }
}

// Scores rows [begin, end) of `data` and offers those above the threshold.
// `pad` (8 * d floats) holds a final partial block, zero-padded, so that no read
// goes past row end - 1.
void ScanPortable(const float* data, int64_t begin, int64_t end, int d, const float* q, float* pad,
                  QueryScan& scan) {
  float s[8];
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    if (i + kPrefetchRows < end) __builtin_prefetch(data + (i + kPrefetchRows) * d);
    Block8Portable(data + i * d, d, q, s);
    for (int b = 0; b < 8; ++b) {
      if (s[b] > scan.top.threshold()) scan.Offer(i + b, s[b]);
    }
  }
  if (i < end) {
    const int rows = static_cast<int>(end - i);
    std::memset(pad, 0, sizeof(float) * 8 * d);
    std::memcpy(pad, data + i * d, sizeof(float) * rows * d);
    Block8Portable(pad, d, q, s);
    for (int b = 0; b < rows; ++b) {
      if (s[b] > scan.top.threshold()) scan.Offer(i + b, s[b]);
    }
  }
}

// ---------------------------------------------------------------------------
// AVX2 + FMA kernel: blocks of 8 rows, one 8-lane accumulator per row over the
// columns (a masked load for d % 8), then a transpose-reduce to one vector of 8
// scores compared with the threshold at once. Only rows that beat it leave
// registers. Compiled for AVX2 only in these functions; called only after the
// runtime check.

#define RECSYS_AVX2 __attribute__((target("avx2,fma")))

RECSYS_AVX2 inline __m256i TailMask(int rest) {
  alignas(32) int32_t m[8];
  for (int t = 0; t < 8; ++t) m[t] = t < rest ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(m));
}

// One row's 8 lane sums (lane t: columns t, t + 8, ...; fused multiply-add in
// column order), the tail (d % 8 columns) through a masked load.
RECSYS_AVX2 inline __m256 RowLanesAvx2(const float* x, int d, const float* q, __m256i tail) {
  __m256 acc = _mm256_setzero_ps();
  int j = 0;
  for (; j + 8 <= d; j += 8) {
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(q + j), acc);
  }
  if (j < d) {  // masked lanes load 0 and never fault
    acc = _mm256_fmadd_ps(_mm256_maskload_ps(x + j, tail), _mm256_maskload_ps(q + j, tail), acc);
  }
  return acc;
}

// Lane r of the result = the sum of a[r]'s lanes, as
// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
RECSYS_AVX2 inline __m256 TransposeSum8(const __m256* a) {
  // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7].
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]);
  const __m256 t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]);
  const __m256 t3 = _mm256_hadd_ps(a[6], a[7]);
  // u0 = [rows 0..3, lanes 0-3 | rows 0..3, lanes 4-7]; u1 likewise for rows 4..7.
  const __m256 u0 = _mm256_hadd_ps(t0, t1);
  const __m256 u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Scores of rows[0..7] (row r at rows + r * d): lane r = row r. Rows are read
// one after the other, in a loop; the 8 independent accumulators overlap in the
// out-of-order window. Measured at 1M x 64 (floor ~6.3 ms): interleaving the 8
// rows column by column ~10 ms; this loop unrolled by hand 8.5-10.5 ms; as
// written ~7 ms.
RECSYS_AVX2 inline __m256 Block8Avx2(const float* rows, int d, const float* q, __m256i tail) {
  alignas(32) __m256 a[8];
  for (int r = 0; r < 8; ++r) a[r] = RowLanesAvx2(rows + static_cast<int64_t>(r) * d, d, q, tail);
  return TransposeSum8(a);
}

RECSYS_AVX2 inline void OfferBlockAvx2(__m256 scores, int64_t first, int rows, QueryScan& scan) {
  const __m256 threshold = _mm256_set1_ps(scan.top.threshold());
  unsigned mask =
      static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(scores, threshold, _CMP_GT_OQ)));
  mask &= (1u << rows) - 1;
  if (mask == 0) return;
  alignas(32) float s[8];
  _mm256_store_ps(s, scores);
  while (mask != 0) {
    const int b = __builtin_ctz(mask);
    mask &= mask - 1;
    scan.Offer(first + b, s[b]);
  }
}

// One software prefetch per block, kPrefetchRows ahead: measured 1.15x -> 1.05x
// of the bandwidth floor (1M x 64); one per cache line costs more than it saves.
RECSYS_AVX2 inline void PrefetchAhead(const float* data, int64_t i, int64_t end, int d) {
  if (i + kPrefetchRows < end) {
    _mm_prefetch(reinterpret_cast<const char*>(data + (i + kPrefetchRows) * d), _MM_HINT_T0);
  }
}

// The full blocks of rows [begin, end) for a dimension known at compile time:
// the query stays in registers (~10% faster at d = 64). Same lanes, same order
// of operations as Block8Avx2, hence bit-identical scores. Returns the first row
// not scanned.
template <int kD>
RECSYS_AVX2 int64_t ScanFullBlocksFixedAvx2(const float* data, int64_t begin, int64_t end,
                                            const float* q, QueryScan& scan) {
  static_assert(kD % 8 == 0);
  __m256 qv[kD / 8];
  for (int j = 0; j < kD / 8; ++j) qv[j] = _mm256_loadu_ps(q + 8 * j);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    PrefetchAhead(data, i, end, kD);
    const float* x = data + i * kD;
    alignas(32) __m256 a[8];
    for (int r = 0; r < 8; ++r) {
      __m256 acc = _mm256_setzero_ps();
      for (int j = 0; j < kD / 8; ++j) {
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * kD + 8 * j), qv[j], acc);
      }
      a[r] = acc;
    }
    OfferBlockAvx2(TransposeSum8(a), i, 8, scan);
  }
  return i;
}

RECSYS_AVX2 void ScanAvx2(const float* data, int64_t begin, int64_t end, int d, const float* q,
                          float* pad, QueryScan& scan) {
  const __m256i tail = TailMask(d % 8);
  int64_t i = begin;
  switch (d) {  // the embedding sizes in use (content 96, ALS 64) and neighbours
    case 32:
      i = ScanFullBlocksFixedAvx2<32>(data, begin, end, q, scan);
      break;
    case 64:
      i = ScanFullBlocksFixedAvx2<64>(data, begin, end, q, scan);
      break;
    case 96:
      i = ScanFullBlocksFixedAvx2<96>(data, begin, end, q, scan);
      break;
    case 128:
      i = ScanFullBlocksFixedAvx2<128>(data, begin, end, q, scan);
      break;
    default:
      for (; i + 8 <= end; i += 8) {
        PrefetchAhead(data, i, end, d);
        OfferBlockAvx2(Block8Avx2(data + i * d, d, q, tail), i, 8, scan);
      }
  }
  if (i < end) {
    const int rows = static_cast<int>(end - i);
    std::memset(pad, 0, sizeof(float) * 8 * d);
    std::memcpy(pad, data + i * d, sizeof(float) * rows * d);
    OfferBlockAvx2(Block8Avx2(pad, d, q, tail), i, rows, scan);
  }
}

#undef RECSYS_AVX2

using ScanFn = void (*)(const float*, int64_t, int64_t, int, const float*, float*, QueryScan&);

bool CpuHasAvx2Fma() {
  static const bool has = [] {
    __builtin_cpu_init();
    // libgcc sets these only when the OS also saves the YMM state (XCR0).
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}

ScanKernel Resolve(ScanKernel kernel) {
  if (kernel == ScanKernel::kPortable) return ScanKernel::kPortable;
  return CpuHasAvx2Fma() ? ScanKernel::kAvx2 : ScanKernel::kPortable;
}

ScanFn ScanFor(ScanKernel kernel) {
  return Resolve(kernel) == ScanKernel::kAvx2 ? &ScanAvx2 : &ScanPortable;
}

}  // namespace

ScanKernel DetectScanKernel() { return Resolve(ScanKernel::kAuto); }

const char* ScanKernelName(ScanKernel kernel) {
  return Resolve(kernel) == ScanKernel::kAvx2 ? "avx2+fma" : "portable";
}

std::vector<Neighbor> ExactTopK(const float* data, int64_t n, int d, const float* query, int k,
                                std::span<const int64_t> exclude, ScanKernel kernel) {
  if (k < 1 || n < 1 || d < 1) return {};
  const ScanFn scan_fn = ScanFor(kernel);
  std::vector<float> pad(static_cast<size_t>(8) * d);
  QueryScan scan(k, n, exclude);
  scan_fn(data, 0, n, d, query, pad.data(), scan);
  return scan.top.Finish();
}

std::vector<std::vector<Neighbor>> ExactTopKBatch(const float* data, int64_t n, int d,
                                                  const float* queries, int64_t nq, int k,
                                                  ScanKernel kernel) {
  std::vector<std::vector<Neighbor>> out(std::max<int64_t>(nq, 0));
  if (k < 1 || n < 1 || d < 1 || nq < 1) return out;
  const ScanFn scan_fn = ScanFor(kernel);
  std::vector<float> pad(static_cast<size_t>(8) * d);
  std::vector<QueryScan> scans;
  scans.reserve(nq);
  for (int64_t q = 0; q < nq; ++q) scans.emplace_back(k, n, std::span<const int64_t>());
  // A multiple of 8 rows, so that only the last block can be partial.
  const int64_t block =
      std::max<int64_t>(8, kBatchBlockBytes / (static_cast<int64_t>(d) * 4) / 8 * 8);
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t end = std::min(n, begin + block);
    for (int64_t q = 0; q < nq; ++q) {
      scan_fn(data, begin, end, d, queries + q * d, pad.data(), scans[q]);
    }
  }
  for (int64_t q = 0; q < nq; ++q) out[q] = scans[q].top.Finish();
  return out;
}

ExactScan::ExactScan(const float* data, int64_t n, int d, ScanOrder order) : n_(n), d_(d) {
  const size_t bytes = static_cast<size_t>(n) * static_cast<size_t>(d) * sizeof(float);
  if (bytes == 0) return;
  // aligned_alloc wants a size that is a multiple of the alignment.
  const size_t rounded = (bytes + 63) / 64 * 64;
  rows_.reset(static_cast<float*>(std::aligned_alloc(64, rounded)));
  if (rows_ == nullptr) throw std::bad_alloc();
  if (order == ScanOrder::kAsGiven) {
    std::memcpy(rows_.get(), data, bytes);
    return;
  }
  // A row with a non-finite norm sorts first (bound +inf): it is always
  // scored, as the plain scan would.
  std::vector<float> norm(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(data[i * d + j]) * data[i * d + j];
    const float v = static_cast<float>(std::sqrt(s));
    norm[i] = std::isfinite(v) ? v : std::numeric_limits<float>::infinity();
  }
  ids_.resize(n);
  for (int64_t i = 0; i < n; ++i) ids_[i] = i;
  std::sort(ids_.begin(), ids_.end(), [&](int64_t a, int64_t b) {
    return norm[a] > norm[b] || (norm[a] == norm[b] && a < b);
  });
  positions_.resize(n);
  norms_.resize(n);
  for (int64_t p = 0; p < n; ++p) {
    positions_[ids_[p]] = p;
    norms_[p] = norm[ids_[p]];
    std::memcpy(rows_.get() + p * d, data + ids_[p] * d, sizeof(float) * d);
  }
}

std::vector<Neighbor> ExactScan::Search(const float* query, int k,
                                        std::span<const int64_t> exclude, ScanKernel kernel,
                                        int64_t* rows_scored) const {
  if (!ids_.empty()) return SearchByNorm(query, k, exclude, kernel, rows_scored);
  if (rows_scored != nullptr) *rows_scored = n_;
  return ExactTopK(data(), n_, d_, query, k, exclude, kernel);
}

std::vector<std::vector<Neighbor>> ExactScan::SearchBatch(const float* queries, int64_t nq, int k,
                                                          ScanKernel kernel) const {
  if (ids_.empty()) return ExactTopKBatch(data(), n_, d_, queries, nq, k, kernel);
  std::vector<std::vector<Neighbor>> out(std::max<int64_t>(nq, 0));
  for (int64_t q = 0; q < nq; ++q) out[q] = SearchByNorm(queries + q * d_, k, {}, kernel, nullptr);
  return out;
}

std::vector<Neighbor> ExactScan::SearchByNorm(const float* query, int k,
                                              std::span<const int64_t> exclude, ScanKernel kernel,
                                              int64_t* rows_scored) const {
  if (rows_scored != nullptr) *rows_scored = 0;
  if (k < 1 || n_ < 1) return {};
  // Exclusions as stored positions, ascending (the order the walk offers them).
  std::vector<int64_t> excluded;
  excluded.reserve(exclude.size());
  for (int64_t id : exclude) {
    if (id >= 0 && id < n_) excluded.push_back(positions_[id]);
  }
  std::sort(excluded.begin(), excluded.end());
  double qq = 0;
  for (int j = 0; j < d_; ++j) qq += static_cast<double>(query[j]) * query[j];
  // Rounding: a computed score can exceed |q||x| by a few ulps of the terms;
  // the margin keeps the stop conservative. A non-finite query norm never stops.
  const double query_norm = std::sqrt(qq) * (1.0 + 1e-4);
  const ScanFn scan_fn = ScanFor(kernel);
  std::vector<float> pad(static_cast<size_t>(8) * d_);
  QueryScan scan(k, n_, excluded);
  // Bounds are checked per block of rows (a multiple of 8, so only the last
  // block can be partial).
  constexpr int64_t kBoundBlock = 256;
  int64_t begin = 0;
  for (; begin < n_; begin += kBoundBlock) {
    const float threshold = scan.top.threshold();
    if (threshold > 0 && query_norm * norms_[begin] < threshold) break;
    scan_fn(data(), begin, std::min(n_, begin + kBoundBlock), d_, query, pad.data(), scan);
  }
  if (rows_scored != nullptr) *rows_scored = std::min(begin, n_);
  std::vector<Neighbor> top = scan.top.Finish();
  for (Neighbor& nb : top) nb.id = ids_[nb.id];
  std::sort(top.begin(), top.end(), Better);
  return top;
}

std::vector<float> ExactScan::RowsById() const {
  std::vector<float> out(static_cast<size_t>(n_) * d_);
  for (int64_t p = 0; p < n_; ++p) {
    std::memcpy(out.data() + id_at(p) * d_, data() + p * d_, sizeof(float) * d_);
  }
  return out;
}

}  // namespace recsys
