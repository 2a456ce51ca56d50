// EaseModel::Fit (the fitting half; scoring, Save and Load are in ease.cc).
//
// Memory: one num_items^2 float buffer, worked on in place: XtX + lambda I is
// built in it, factored and inverted by LAPACK (spotrf + spotri, threaded by
// OpenBLAS), mirrored to a full symmetric matrix and scaled column-wise into B;
// pruning then copies the kept entries out and frees the buffer.
// Cost O(sum_u |items_u|^2 + num_items^3): ~9.7k items take seconds.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/vlog.h"
#include "common/models/ease.h"

// LAPACK (Fortran ABI; the trailing size_t is gfortran's hidden length of the
// character argument).
extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
}

namespace recsys {

std::vector<ItemIndex> EaseModel::ChooseItems(std::span<const Interaction> events,
                                              int32_t num_items, int32_t max_items) {
  std::vector<ItemIndex> chosen;
  if (max_items <= 0 || num_items <= max_items) return chosen;
  std::vector<int64_t> count(static_cast<size_t>(num_items), 0);
  for (const Interaction& e : events) {
    if (e.item >= 0 && e.item < num_items) ++count[e.item];
  }
  chosen.resize(static_cast<size_t>(num_items));
  for (ItemIndex i = 0; i < num_items; ++i) chosen[i] = i;
  std::nth_element(chosen.begin(), chosen.begin() + max_items, chosen.end(),
                   [&](ItemIndex a, ItemIndex b) {
                     return count[a] != count[b] ? count[a] > count[b] : a < b;
                   });
  chosen.resize(static_cast<size_t>(max_items));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

EaseModel EaseModel::FromDense(std::vector<float> g, int32_t num_items,
                               std::vector<ItemIndex> items, int keep) {
  EaseModel model;
  model.num_items_ = num_items;
  if (!items.empty()) model.SetItems(std::move(items));
  const int64_t n = num_items;
  if (keep <= 0) {
    model.weights_ = std::move(g);
    return model;
  }
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
  return model;
}

absl::StatusOr<EaseModel> EaseModel::Fit(std::span<const Interaction> events, int32_t num_users,
                                         int32_t num_items, double lambda, int keep,
                                         int32_t max_items) {
  if (num_items < 0 || num_users < 0) {
    return absl::InvalidArgumentError("EASE: negative num_users or num_items");
  }
  // The model's items: the whole catalogue, or its `max_items` most popular.
  std::vector<ItemIndex> chosen = ChooseItems(events, num_items, max_items);
  std::vector<int32_t> position;  // catalogue index -> model position, -1 outside
  if (!chosen.empty()) {
    position.assign(static_cast<size_t>(num_items), -1);
    for (size_t l = 0; l < chosen.size(); ++l) position[chosen[l]] = static_cast<int32_t>(l);
    LOG(INFO) << "EASE: fitting the " << chosen.size() << " most popular of " << num_items
              << " items";
    num_items = static_cast<int32_t>(chosen.size());
  }
  if (num_items > kMaxItems) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EASE: ", num_items, " items exceed the limit of ", kMaxItems, " (dense n^2 weights)"));
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
    if (e.user < 0 || e.user >= num_users) continue;
    const ItemIndex item =
        position.empty() ? e.item
        : e.item >= 0 && e.item < static_cast<ItemIndex>(position.size()) ? position[e.item]
                                                                          : -1;
    if (item < 0 || item >= num_items) continue;
    user_items[e.user].push_back(item);
  }
  if (n == 0) return FromDense({}, 0, std::move(chosen), keep);
  std::vector<float> g(static_cast<size_t>(n * n), 0.0f);
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
  EaseModel model = FromDense(std::move(g), num_items, std::move(chosen), keep);
  VLOG(1) << "EASE: " << n << " items, lambda " << lambda << ", keep "
          << (keep > 0 ? absl::StrCat(keep, " per row") : "all (dense)") << ", "
          << model.num_entries() << " entries, fit in "
          << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
  return model;
}

}  // namespace recsys
