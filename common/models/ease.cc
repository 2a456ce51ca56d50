// EaseModel (declared in als.h).
//
// Memory: one num_items^2 float buffer, worked on in place: XtX + lambda I is
// built in it, factored and inverted by LAPACK (spotrf + spotri, threaded by
// OpenBLAS), mirrored to a full symmetric matrix and scaled column-wise into B.
// Cost O(sum_u |items_u|^2 + num_items^3): ~9.7k items take seconds.
#include <algorithm>
#include <cmath>
#include <cstddef>

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
// 30000^2 floats = 3.6 GB: beyond that EASE is the wrong model.
constexpr int32_t kMaxEaseItems = 30000;

}  // namespace

absl::StatusOr<EaseModel> EaseModel::Fit(std::span<const Interaction> events, int32_t num_users,
                                         int32_t num_items, double lambda) {
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
  LOG(INFO) << "EASE: " << n << " items, lambda " << lambda << ", fit in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
  return model;
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
    const float* row = weights_.data() + int64_t{i} * n;
    for (int64_t j = 0; j < n; ++j) out[j] += w * row[j];
  }
}

float EaseModel::ScoreOne(std::span<const std::pair<ItemIndex, float>> weighted, ItemIndex j) const {
  if (j < 0 || j >= num_items_) return 0.0f;
  float score = 0.0f;
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
  const uint64_t n = static_cast<uint64_t>(num_items_);
  RETURN_IF_ERROR(WriteFloatArray(absl::StrCat(dir, "/", kEaseFile), {n, n}, weights_.data()));
  return std::vector<std::string>{kEaseFile};
}

absl::StatusOr<EaseModel> EaseModel::Load(const std::string& dir) {
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
