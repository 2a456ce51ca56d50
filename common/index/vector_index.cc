#include "common/index/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <filesystem>
#include <new>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

#if defined(__SANITIZE_ADDRESS__)
#define RECSYS_VECTOR_INDEX_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RECSYS_VECTOR_INDEX_LSAN 1
#endif
#endif
#ifdef RECSYS_VECTOR_INDEX_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace recsys {
namespace {

using idx_t = faiss::Index::idx_t;

// Default HNSW candidate list size when the caller leaves ef_search at 0.
constexpr int kDefaultEfSearch = 64;

// FAISS 1.7.3 sizes the HNSW candidate heap from the index's own
// hnsw.efSearch (max(hnsw.efSearch, k)); the per-call SearchParametersHNSW
// efSearch only sets the stopping rule (fixed upstream in faiss PR #3233).
// So the index's knob is set once, before the index is shared (Build/Load),
// to a ceiling (VectorIndexOptions::hnsw_ef_search_max, default 256), and
// per-call values up to max(ceiling, fetched k) take effect. Measured on 5k x
// 32-d: a larger heap costs ~50% more time at ef=64 (78 vs 52 us/query);
// recall at ef=64 is unchanged.

bool IsInnerProduct(const faiss::Index& index) {
  return index.metric_type == faiss::METRIC_INNER_PRODUCT;
}

// Turns one query's FAISS output (k slots, -1 padded) into neighbours, dropping
// padding and ids in `exclude` (sorted ascending), keeping at most `k`.
std::vector<Neighbor> CollectNeighbors(const idx_t* labels, const float* scores, int64_t fetched,
                                       int k, const std::vector<int64_t>& exclude) {
  std::vector<Neighbor> out;
  out.reserve(std::min<int64_t>(fetched, k));
  for (int64_t j = 0; j < fetched && static_cast<int>(out.size()) < k; ++j) {
    const int64_t id = labels[j];
    if (id < 0) continue;
    if (!exclude.empty() && std::binary_search(exclude.begin(), exclude.end(), id)) continue;
    out.push_back({id, scores[j]});
  }
  return out;
}

// The exact scan's copy of n x d vectors; an allocation failure is a status
// (a bundle that does not fit must not take the serving process down).
absl::StatusOr<std::unique_ptr<const ExactScan>> CopyForScan(const float* vectors, int64_t n,
                                                             int d,
                                                             ScanOrder order = ScanOrder::kAsGiven) {
  try {
    return std::make_unique<const ExactScan>(vectors, n, d, order);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("VectorIndex: no memory for ", n, " x ", d, " vectors"));
  }
}

// The mean share of `scan`'s rows a search scores, with up to `probes` rows
// spread evenly over the catalogue as queries (their own vectors: what item
// similarity asks; a user's vector, a mix of items, prunes better). Stops
// early once the share surely exceeds `give_up_above`.
double ProbeScanFraction(const ExactScan& scan, const float* vectors, int k, int probes,
                         double give_up_above) {
  const int64_t n = scan.size();
  if (n == 0) return 0;
  const int64_t count = std::min<int64_t>(probes, n);
  const int64_t budget = static_cast<int64_t>(give_up_above * static_cast<double>(n * count));
  int64_t scored = 0;
  for (int64_t q = 0; q < count; ++q) {
    const int64_t row = q * n / count;
    int64_t rows = 0;
    scan.Search(vectors + row * scan.dim(), k, {}, ScanKernel::kAuto, &rows);
    scored += rows;
    if (scored > budget) return static_cast<double>(scored) / static_cast<double>(n * (q + 1));
  }
  return static_cast<double>(scored) / static_cast<double>(n * count);
}

// FAISS reads a vector as "u64 count, then count elements" and resizes the
// vector to the count before reading the elements, so a crafted count makes
// it allocate (and zero) whatever the file claims. This reader refuses any
// 8-byte single value (vector counts, ntotal) larger than the bytes left in
// the file: every vector element takes at least one byte, so real files
// never trip it, and what FAISS allocates while reading stays below 8x the
// file's size. The one exception is the header's fixed placeholder value
// 2^20, which FAISS writes in every index header.
class BoundedIndexReader final : public faiss::IOReader {
 public:
  BoundedIndexReader(std::FILE* file, uint64_t size) : file_(file), remaining_(size) {}

  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0 || nitems == 0) return 0;
    if (nitems > remaining_ / size) {
      throw std::runtime_error(absl::StrCat("the file claims ", nitems, " items of ", size,
                                            " bytes with only ", remaining_, " bytes left"));
    }
    const size_t got = std::fread(ptr, size, nitems, file_);
    remaining_ -= got * size;
    if (got == 1 && size == 8) {
      uint64_t value;
      std::memcpy(&value, ptr, 8);
      constexpr uint64_t kHeaderPlaceholder = uint64_t{1} << 20;
      if (value > remaining_ && value != kHeaderPlaceholder) {
        throw std::runtime_error(absl::StrCat("a count of ", value, " with only ", remaining_,
                                              " bytes left in the file"));
      }
    }
    return got;
  }

 private:
  std::FILE* file_;
  uint64_t remaining_;
};

// FAISS trusts the HNSW graph it reads: a neighbour id or offset out of range
// would be read out of bounds by the first search. Checks every invariant
// search relies on.
absl::Status CheckHnswGraph(const faiss::IndexHNSWFlat& index, const std::string& path) {
  const faiss::HNSW& g = index.hnsw;
  const int64_t n = index.ntotal;
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: ", path, ": corrupt HNSW graph (", what, ")"));
  };
  if (index.storage == nullptr || index.storage->ntotal != n || index.storage->d != index.d) {
    return bad("storage size or dimension differs from the index");
  }
  const auto* storage = dynamic_cast<const faiss::IndexFlat*>(index.storage);
  if (storage == nullptr ||
      storage->codes.size() != static_cast<size_t>(n) * storage->code_size ||
      storage->code_size != sizeof(float) * static_cast<size_t>(index.d)) {
    return bad("storage vectors do not match ntotal x d");
  }
  if (g.levels.size() != static_cast<size_t>(n) || g.offsets.size() != g.levels.size() + 1) {
    return bad("levels/offsets size");
  }
  const std::vector<int>& cum = g.cum_nneighbor_per_level;
  if (cum.empty() || cum[0] != 0) return bad("neighbours per level");
  for (size_t l = 1; l < cum.size(); ++l) {
    if (cum[l] < cum[l - 1]) return bad("neighbours per level decrease");
  }
  const int num_levels = static_cast<int>(cum.size()) - 1;
  if (g.max_level < -1 || g.max_level >= num_levels) return bad("max_level");
  if (g.offsets[0] != 0) return bad("first offset");
  for (int64_t i = 0; i < n; ++i) {
    const int level = g.levels[i];
    if (level < 1 || level > num_levels || level - 1 > g.max_level) return bad("a node's level");
    if (g.offsets[i + 1] < g.offsets[i] ||
        g.offsets[i + 1] - g.offsets[i] < static_cast<size_t>(cum[level])) {
      return bad("offsets out of order or too close");
    }
  }
  if (g.offsets[n] != g.neighbors.size()) return bad("last offset != neighbour count");
  for (const faiss::HNSW::storage_idx_t id : g.neighbors) {
    if (id < -1 || id >= n) return bad("a neighbour id out of range");
  }
  if (n > 0 && (g.entry_point < 0 || g.entry_point >= n ||
                g.levels[g.entry_point] - 1 != g.max_level)) {
    return bad("entry point");
  }
  if (g.efConstruction < 1 || g.efSearch < 0) return bad("ef parameters");
  return absl::OkStatus();
}

}  // namespace

VectorIndex::VectorIndex() = default;
VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

absl::StatusOr<VectorIndex> VectorIndex::Build(std::span<const float> vectors, int64_t n, int d,
                                               const VectorIndexOptions& options) {
  if (d < 1) return absl::InvalidArgumentError(absl::StrCat("VectorIndex: dimension ", d, " < 1"));
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("VectorIndex: negative count ", n));
  if (static_cast<uint64_t>(vectors.size()) !=
      static_cast<uint64_t>(n) * static_cast<uint64_t>(d)) {
    return absl::InvalidArgumentError(absl::StrCat("VectorIndex: got ", vectors.size(),
                                                   " floats, expected n * d = ", n, " * ", d));
  }
  const bool flat = n <= options.flat_max_items;
  if (!flat &&
      (options.hnsw_m < 2 || options.hnsw_ef_construction < 1 || options.hnsw_ef_search_max < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: bad HNSW options m=", options.hnsw_m, " efConstruction=",
                     options.hnsw_ef_construction, " efSearch max=", options.hnsw_ef_search_max));
  }
  VectorIndex result;
  if (flat && options.flat_search == FlatSearch::kExactScan) {
    ASSIGN_OR_RETURN(result.scan_, CopyForScan(vectors.data(), n, d));
    return result;
  }
  if (!flat && options.pruned_max_scan_fraction > 0) {
    ASSIGN_OR_RETURN(std::unique_ptr<const ExactScan> pruned,
                     CopyForScan(vectors.data(), n, d, ScanOrder::kByNormDescending));
    const double fraction =
        ProbeScanFraction(*pruned, vectors.data(), std::max(1, options.pruned_probe_k), 200,
                          options.pruned_max_scan_fraction);
    if (fraction <= options.pruned_max_scan_fraction) {
      result.scan_ = std::move(pruned);
      result.probe_scan_fraction_ = fraction;
      return result;
    }
  }
  try {
    if (flat) {
      result.index_ = std::make_unique<faiss::IndexFlatIP>(d);
    } else {
      auto hnsw =
          std::make_unique<faiss::IndexHNSWFlat>(d, options.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = options.hnsw_ef_construction;
      hnsw->hnsw.efSearch = options.hnsw_ef_search_max;
      result.index_ = std::move(hnsw);
    }
    if (n > 0) result.index_->add(n, vectors.data());
    if (!flat && options.hnsw_ef_search > 0) result.SetEfSearch(options.hnsw_ef_search);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("VectorIndex: FAISS build of ", n, " x ", d,
                                            (flat ? " flat" : " HNSW"),
                                            " index failed: ", e.what()));
  }
  return result;
}

absl::Status VectorIndex::Save(const std::string& path) const {
  if (index_ == nullptr && scan_ == nullptr) {
    return absl::FailedPreconditionError("VectorIndex::Save: no index");
  }
  try {
    if (scan_ != nullptr) {
      // The same file a FAISS-searched flat index writes.
      faiss::IndexFlatIP flat(scan_->dim());
      if (scan_->order() == ScanOrder::kAsGiven) {
        if (scan_->size() > 0) flat.add(scan_->size(), scan_->data());
      } else {
        const std::vector<float> rows = scan_->RowsById();
        if (scan_->size() > 0) flat.add(scan_->size(), rows.data());
      }
      faiss::write_index(&flat, path.c_str());
    } else {
      faiss::write_index(index_.get(), path.c_str());
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("VectorIndex: writing ", path, " failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<VectorIndex> VectorIndex::Load(const std::string& path,
                                              const VectorIndexOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("VectorIndex: no index file ", path));
  }
  std::unique_ptr<faiss::Index> index;
  try {
#ifdef RECSYS_VECTOR_INDEX_LSAN
    // FAISS 1.7.3's read_index leaks the partly read index when a truncated
    // file makes it throw (raw `new`, then a failing read). Only that error
    // path leaks; keep sanitizer builds quiet about it. Callers should check
    // bundle checksums before loading so truncated files never get here.
    __lsan::ScopedDisabler faiss_error_path_leak;
#endif
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (file == nullptr) {
      return absl::NotFoundError(absl::StrCat("VectorIndex: cannot open ", path));
    }
    BoundedIndexReader reader(file.get(), std::filesystem::file_size(path));
    reader.name = path;
    index.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: ", path, " is not a readable FAISS index: ", e.what()));
  }
  if (index == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("VectorIndex: ", path, ": no index read"));
  }
  // Only the two kinds Build makes are accepted: search code relies on scores
  // being inner products and on SearchParametersHNSW applying.
  const auto* flat_index = dynamic_cast<const faiss::IndexFlat*>(index.get());
  const bool flat = flat_index != nullptr;
  auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(index.get());
  if (!flat && hnsw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VectorIndex: ", path, " holds an unsupported index type (want flat or HNSW)"));
  }
  if (!IsInnerProduct(*index)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: ", path, " is not an inner-product index"));
  }
  if (hnsw != nullptr && (hnsw->storage == nullptr || !IsInnerProduct(*hnsw->storage))) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: ", path, ": HNSW storage is not inner-product"));
  }
  if (flat && flat_index->codes.size() !=
                  static_cast<size_t>(flat_index->ntotal) * flat_index->code_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: ", path, ": vectors do not match ntotal x d"));
  }
  if (hnsw != nullptr) RETURN_IF_ERROR(CheckHnswGraph(*hnsw, path));
  if (hnsw != nullptr) {
    // Not yet shared: see hnsw_ef_search_max.
    hnsw->hnsw.efSearch = std::max(1, options.hnsw_ef_search_max);
  }
  if (index->d < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndex: ", path, ": dimension ", index->d));
  }
  VectorIndex result;
  if (flat && options.flat_search == FlatSearch::kExactScan) {
    // Keep our own aligned copy; the FAISS index is freed on return.
    ASSIGN_OR_RETURN(result.scan_,
                     CopyForScan(flat_index->get_xb(), flat_index->ntotal,
                                 static_cast<int>(flat_index->d),
                                 options.flat_by_norm ? ScanOrder::kByNormDescending
                                                      : ScanOrder::kAsGiven));
    return result;
  }
  result.index_ = std::move(index);
  if (hnsw != nullptr && options.hnsw_ef_search > 0) result.SetEfSearch(options.hnsw_ef_search);
  return result;
}

absl::StatusOr<VectorIndex> VectorIndex::Subset(std::span<const int64_t> ids) const {
  if (scan_ == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("VectorIndex::Subset: a ", kind(), " index searched by FAISS"));
  }
  const int64_t n = scan_->size();
  const int d = scan_->dim();
  for (size_t j = 0; j < ids.size(); ++j) {
    if (ids[j] < 0 || ids[j] >= n || (j > 0 && ids[j] <= ids[j - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("VectorIndex::Subset: ids must ascend within 0..", n - 1));
    }
  }
  std::vector<float> rows;
  try {
    rows.resize(ids.size() * static_cast<size_t>(d));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("VectorIndex::Subset: no memory for ", ids.size(), " x ", d, " vectors"));
  }
  for (size_t j = 0; j < ids.size(); ++j) {
    std::memcpy(rows.data() + j * d, scan_->Row(ids[j]), sizeof(float) * d);
  }
  VectorIndex result;
  ASSIGN_OR_RETURN(result.scan_,
                   CopyForScan(rows.data(), static_cast<int64_t>(ids.size()), d, scan_->order()));
  return result;
}

void VectorIndex::SetEfSearch(int ef_search) {
  auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(index_.get());
  if (hnsw == nullptr) return;
  ef_search_ = std::max(0, ef_search);
  hnsw->hnsw.efSearch = std::max(hnsw->hnsw.efSearch, ef_search_);
}

absl::StatusOr<std::vector<Neighbor>> VectorIndex::Search(const float* query, int k,
                                                          const std::vector<int64_t>& exclude,
                                                          const SearchParams& params) const {
  if (query == nullptr) return absl::InvalidArgumentError("VectorIndex::Search: null query");
  if (k < 1)
    return absl::InvalidArgumentError(absl::StrCat("VectorIndex::Search: k = ", k, " < 1"));
  if (index_ == nullptr && scan_ == nullptr) {
    return absl::FailedPreconditionError("VectorIndex::Search: no index");
  }
  if (!std::is_sorted(exclude.begin(), exclude.end())) {
    return absl::InvalidArgumentError("VectorIndex::Search: exclude must be sorted ascending");
  }
  if (scan_ != nullptr) return scan_->Search(query, k, exclude);
  const int64_t ntotal = index_->ntotal;
  if (ntotal == 0) return std::vector<Neighbor>();
  // Over-fetch so that k survive the exclusion, never more than the index
  // holds. Excluded ids (a user's history: thousands for a heavy user) rarely
  // fill the top, so the first search over-fetches by at most k and a search
  // that comes back short is repeated with twice the margin, up to k +
  // |exclude|. The graph's cost grows with ef >= fetch: a fixed k + |exclude|
  // made every heavy user pay ef in the thousands.
  const int64_t full_fetch =
      std::min<int64_t>(ntotal, int64_t{k} + static_cast<int64_t>(exclude.size()));
  int64_t margin = is_exact() ? static_cast<int64_t>(exclude.size())
                              : std::min<int64_t>(static_cast<int64_t>(exclude.size()), k);
  for (;;) {
    const int64_t fetch = std::min<int64_t>(full_fetch, int64_t{k} + margin);
    std::vector<float> scores(fetch);
    std::vector<idx_t> labels(fetch);
    RETURN_IF_ERROR(FaissSearch(1, query, fetch, params, scores.data(), labels.data()));
    std::vector<Neighbor> out = CollectNeighbors(labels.data(), scores.data(), fetch, k, exclude);
    if (static_cast<int64_t>(out.size()) >= k || fetch >= full_fetch) return out;
    margin = std::max<int64_t>(2 * margin, k);
  }
}

absl::Status VectorIndex::FaissSearch(int64_t nq, const float* queries, int64_t fetch,
                                      const SearchParams& params, float* scores,
                                      int64_t* labels) const {
  try {
    if (is_exact()) {
      index_->search(nq, queries, fetch, scores, labels);
    } else {
      faiss::SearchParametersHNSW hp;
      hp.efSearch = static_cast<int>(
          std::max<int64_t>(fetch, params.ef_search > 0  ? params.ef_search
                                   : ef_search_ > 0      ? ef_search_
                                                         : kDefaultEfSearch));
      index_->search(nq, queries, fetch, scores, labels, &hp);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("VectorIndex: FAISS search failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> VectorIndex::SearchBatch(
    const float* queries, int64_t nq, int k, const SearchParams& params) const {
  if (nq < 0)
    return absl::InvalidArgumentError(absl::StrCat("VectorIndex::SearchBatch: nq = ", nq));
  if (k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("VectorIndex::SearchBatch: k = ", k, " < 1"));
  }
  if (index_ == nullptr && scan_ == nullptr) {
    return absl::FailedPreconditionError("VectorIndex::SearchBatch: no index");
  }
  if (nq == 0) return std::vector<std::vector<Neighbor>>();
  if (queries == nullptr)
    return absl::InvalidArgumentError("VectorIndex::SearchBatch: null queries");
  if (scan_ != nullptr) return scan_->SearchBatch(queries, nq, k);
  std::vector<std::vector<Neighbor>> out(nq);
  const int64_t fetch = std::min<int64_t>(index_->ntotal, k);
  if (fetch == 0) return out;
  std::vector<float> scores(nq * fetch);
  std::vector<idx_t> labels(nq * fetch);
  RETURN_IF_ERROR(FaissSearch(nq, queries, fetch, params, scores.data(), labels.data()));
  static const std::vector<int64_t> kNoExclusions;
  for (int64_t q = 0; q < nq; ++q) {
    out[q] = CollectNeighbors(labels.data() + q * fetch, scores.data() + q * fetch, fetch, k,
                              kNoExclusions);
  }
  return out;
}

int VectorIndex::dim() const {
  if (scan_ != nullptr) return scan_->dim();
  return index_ == nullptr ? 0 : static_cast<int>(index_->d);
}

int64_t VectorIndex::size() const {
  if (scan_ != nullptr) return scan_->size();
  return index_ == nullptr ? 0 : index_->ntotal;
}

bool VectorIndex::is_exact() const {
  return scan_ != nullptr || dynamic_cast<const faiss::IndexFlat*>(index_.get()) != nullptr;
}

std::string VectorIndex::kind() const {
  if (scan_ != nullptr) return scan_->order() == ScanOrder::kAsGiven ? "flat" : "pruned";
  if (index_ == nullptr) return "";
  return is_exact() ? "flat" : "hnsw";
}

std::string VectorIndex::search_kind() const {
  if (scan_ != nullptr) {
    return absl::StrCat(scan_->order() == ScanOrder::kAsGiven ? "exact_scan/" : "pruned_scan/",
                        ScanKernelName());
  }
  if (index_ == nullptr) return "";
  return is_exact() ? "faiss_flat" : "faiss_hnsw";
}

}  // namespace recsys
