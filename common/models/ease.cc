// EaseModel (declared in als.h).
//
// Memory: one num_items^2 float buffer, worked on in place: XtX + lambda I is
// built in it, factored and inverted by LAPACK (spotrf + spotri, threaded by
// OpenBLAS), mirrored to a full symmetric matrix and scaled column-wise into B;
// pruning then copies the kept entries out and frees the buffer.
// Cost O(sum_u |items_u|^2 + num_items^3): ~9.7k items take seconds.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bundle/array_file.h"
#include "common/log.h"
#include "common/models/als.h"
#include "common/status.h"

// LAPACK (Fortran ABI; the trailing size_t is gfortran's hidden length of the
// character argument).
extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
}

namespace recsys {
namespace {

constexpr char kEaseFile[] = "ease.arr";
constexpr char kOffsetsFile[] = "ease.offsets.arr";
constexpr char kColsFile[] = "ease.cols.arr";
constexpr char kValuesFile[] = "ease.values.arr";

// The sparse layout's CSR arrays.
CsrFiles SparseFiles() { return {kOffsetsFile, kColsFile, kValuesFile}; }
// 30000^2 floats = 3.6 GB: beyond that EASE is the wrong model.
constexpr int32_t kMaxEaseItems = 30000;

}  // namespace

absl::StatusOr<EaseModel> EaseModel::Fit(std::span<const Interaction> events, int32_t num_users,
                                         int32_t num_items, double lambda, int keep) {
  if (num_items < 0 || num_users < 0) {
    return absl::InvalidArgumentError("EASE: negative num_users or num_items");
  }
  if (num_items > kMaxEaseItems) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EASE: ", num_items, " items exceed the limit of ", kMaxEaseItems, " (dense n^2 weights)"));
  }
  if (!std::isfinite(lambda) || lambda <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("EASE: lambda must be > 0, got ", lambda));
  }
  if (keep < 0) {
    return absl::InvalidArgumentError(absl::StrCat("EASE: keep must be >= 0, got ", keep));
  }
  const absl::Time start = absl::Now();
  const int64_t n = num_items;
  std::vector<std::vector<ItemIndex>> user_items(num_users);
  for (const Interaction& e : events) {
    if (e.user < 0 || e.user >= num_users || e.item < 0 || e.item >= num_items) continue;
    user_items[e.user].push_back(e.item);
  }
  EaseModel model;
  model.num_items_ = num_items;
  if (n == 0) return model;
  std::vector<float>& g = model.weights_;
  g.assign(static_cast<size_t>(n * n), 0.0f);
  // G = XtX over binary X (counts stay exact in float below 2^24 users).
  for (auto& items : user_items) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    for (ItemIndex a : items) {
      float* row = g.data() + int64_t{a} * n;
      for (ItemIndex b : items) row[b] += 1.0f;
    }
  }
  user_items = {};
  for (int64_t i = 0; i < n; ++i) g[i * n + i] += static_cast<float>(lambda);

  // G is symmetric, so row- vs column-major does not matter to LAPACK; 'L'
  // (column-major lower) is the row-major upper triangle (c >= r).
  const char uplo = 'L';
  const int ni = static_cast<int>(n);
  int info = 0;
  spotrf_(&uplo, &ni, g.data(), &ni, &info, 1);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("EASE: spotrf failed, info=", info));
  }
  spotri_(&uplo, &ni, g.data(), &ni, &info, 1);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("EASE: spotri failed, info=", info));
  }
  // Mirror the row-major upper triangle into the lower one, in tiles.
  constexpr int64_t kTile = 64;
  for (int64_t r0 = 0; r0 < n; r0 += kTile) {
    for (int64_t c0 = 0; c0 <= r0; c0 += kTile) {
      const int64_t r1 = std::min(n, r0 + kTile), c1 = std::min(n, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < std::min(c1, r); ++c) g[r * n + c] = g[c * n + r];
      }
    }
  }
  // B_ij = -P_ij / P_jj, B_jj = 0.
  std::vector<float> neg_inv_diag(n);
  for (int64_t j = 0; j < n; ++j) {
    const float d = g[j * n + j];
    if (!(d > 0.0f)) {
      return absl::InternalError(absl::StrCat("EASE: non-positive diagonal of the inverse at ", j));
    }
    neg_inv_diag[j] = -1.0f / d;
  }
  for (int64_t i = 0; i < n; ++i) {
    float* row = g.data() + i * n;
    for (int64_t j = 0; j < n; ++j) row[j] *= neg_inv_diag[j];
    row[i] = 0.0f;
  }
  if (keep > 0) {
    // Row by row: the `keep` largest |B_ij| among the non-zero entries (ties:
    // lower column), written out in column order.
    Csr<float>& b = model.sparse_;
    b.offsets.reserve(static_cast<size_t>(n) + 1);
    b.offsets.push_back(0);
    b.ids.reserve(static_cast<size_t>(n) * std::min<int64_t>(keep, n));
    b.values.reserve(b.ids.capacity());
    std::vector<int32_t> row_cols;
    row_cols.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = g.data() + i * n;
      row_cols.clear();
      for (int32_t j = 0; j < n; ++j) {
        if (row[j] != 0.0f) row_cols.push_back(j);
      }
      if (row_cols.size() > static_cast<size_t>(keep)) {
        auto larger = [row](int32_t a, int32_t b) {
          const float fa = std::fabs(row[a]), fb = std::fabs(row[b]);
          return fa > fb || (fa == fb && a < b);
        };
        std::nth_element(row_cols.begin(), row_cols.begin() + keep, row_cols.end(), larger);
        row_cols.resize(keep);
        std::sort(row_cols.begin(), row_cols.end());
      }
      for (int32_t j : row_cols) {
        b.ids.push_back(j);
        b.values.push_back(row[j]);
      }
      b.offsets.push_back(b.nnz());
    }
    std::vector<float>().swap(g);
    model.BuildIndex();
  }
  LOG(INFO) << "EASE: " << n << " items, lambda " << lambda << ", keep "
            << (keep > 0 ? absl::StrCat(keep, " per row") : "all (dense)") << ", "
            << model.num_entries() << " entries, fit in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
  return model;
}

void EaseModel::BuildIndex() {
  words_ = (int64_t{num_items_} + 63) / 64;
  bits_.assign(static_cast<size_t>(num_items_ * words_), 0);
  ranks_.assign(bits_.size(), 0);
  for (int32_t i = 0; i < num_items_; ++i) {
    uint64_t* bits = bits_.data() + int64_t{i} * words_;
    uint16_t* ranks = ranks_.data() + int64_t{i} * words_;
    for (int32_t j : sparse_.row_ids(i)) bits[j >> 6] |= uint64_t{1} << (j & 63);
    int rank = 0;
    for (int64_t w = 0; w < words_; ++w) {
      ranks[w] = static_cast<uint16_t>(rank);
      rank += std::popcount(bits[w]);
    }
  }
}

int64_t EaseModel::num_entries() const {
  return sparse() ? sparse_.nnz() : int64_t{num_items_} * num_items_;
}

void EaseModel::Score(std::span<const ItemIndex> history, std::vector<float>* scores) const {
  const std::vector<float> ones(history.size(), 1.0f);
  Score(history, ones, scores);
}

void EaseModel::Score(std::span<const ItemIndex> history, std::span<const float> weights,
                      std::vector<float>* scores) const {
  const int64_t n = num_items_;
  scores->assign(static_cast<size_t>(n), 0.0f);
  const std::vector<std::pair<ItemIndex, float>> items = WeightedItems(history, weights);
  float* out = scores->data();
  for (const auto& [i, w] : items) {
    if (w == 0.0f) continue;
    if (sparse()) {
      const int64_t end = sparse_.offsets[i + 1];
      for (int64_t k = sparse_.offsets[i]; k < end; ++k) {
        out[sparse_.ids[k]] += w * sparse_.values[k];
      }
    } else {
      const float* row = weights_.data() + int64_t{i} * n;
      for (int64_t j = 0; j < n; ++j) out[j] += w * row[j];
    }
  }
}

float EaseModel::ScoreOne(std::span<const std::pair<ItemIndex, float>> weighted, ItemIndex j) const {
  if (j < 0 || j >= num_items_) return 0.0f;
  // The same terms in the same order as Score(), so the float sum is the same.
  float score = 0.0f;
  if (sparse()) {
    const int64_t word = j >> 6;
    const uint64_t bit = uint64_t{1} << (j & 63);
    for (const auto& [i, w] : weighted) {
      const int64_t at = int64_t{i} * words_ + word;
      const uint64_t bits = bits_[at];
      if (w == 0.0f || (bits & bit) == 0) continue;
      const int64_t k = sparse_.offsets[i] + ranks_[at] + std::popcount(bits & (bit - 1));
      score += w * sparse_.values[k];
    }
    return score;
  }
  for (const auto& [i, w] : weighted) {
    if (w == 0.0f) continue;
    score += w * weights_[int64_t{i} * num_items_ + j];
  }
  return score;
}

std::vector<std::pair<ItemIndex, float>> EaseModel::WeightedItems(
    std::span<const ItemIndex> history, std::span<const float> weights) const {
  // Distinct known items with the largest weight among their occurrences.
  std::vector<std::pair<ItemIndex, float>> items;
  items.reserve(history.size());
  for (size_t k = 0; k < history.size(); ++k) {
    const ItemIndex i = history[k];
    if (i >= 0 && i < num_items_) items.emplace_back(i, k < weights.size() ? weights[k] : 1.0f);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  });
  items.erase(std::unique(items.begin(), items.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              items.end());
  return items;
}

absl::StatusOr<std::vector<std::string>> EaseModel::Save(const std::string& dir) const {
  if (sparse()) return sparse_.Save(dir, SparseFiles());
  const uint64_t n = static_cast<uint64_t>(num_items_);
  RETURN_IF_ERROR(WriteFloatArray(absl::StrCat(dir, "/", kEaseFile), {n, n}, weights_.data()));
  return std::vector<std::string>{kEaseFile};
}

absl::StatusOr<EaseModel> EaseModel::Load(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(absl::StrCat(dir, "/", kOffsetsFile), ec)) {
    CsrShape shape;  // square, num_items from the offsets
    shape.max_rows = kMaxEaseItems;
    shape.sorted_rows = true;
    EaseModel model;
    ASSIGN_OR_RETURN(model.sparse_, Csr<float>::Load(dir, SparseFiles(), shape));
    model.num_items_ = model.sparse_.rows();
    model.BuildIndex();
    return model;
  }
  const std::string path = absl::StrCat(dir, "/", kEaseFile);
  ASSIGN_OR_RETURN(Array<float> b, ReadFloatArray(path));
  if (b.dims.size() != 2 || b.dims[0] != b.dims[1]) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a square 2-d float array"));
  }
  if (b.dims[0] > static_cast<uint64_t>(kMaxEaseItems)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", b.dims[0], " items exceed the limit of ", kMaxEaseItems));
  }
  EaseModel model;
  model.num_items_ = static_cast<int32_t>(b.dims[0]);
  model.weights_ = std::move(b.values);
  return model;
}

}  // namespace recsys
