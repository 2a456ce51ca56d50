// SlistModel::Fit (the fitting half; inputs, Save and Load are in slist.cc).
//
// Memory: two n x n float buffers, A = alpha XtX + (1 - alpha) StS + lambda I
// and the right-hand side R = alpha XtX + (1 - alpha) StT, accumulated
// directly (no S or T matrix is built). A is factored in place (spotrf) and
// R overwritten with A^-1 R (spotrs, BLAS-3 triangular solves threaded by
// OpenBLAS); then B is pruned like EASE's.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/vlog.h"
#include "common/models/slist.h"

extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* lda,
             float* b, const int* ldb, int* info, size_t uplo_len);
}

namespace recsys {

int64_t SlistRowsPerUser(std::span<const int64_t> rows_per_user, int64_t max_rows_per_user,
                         int64_t max_rows) {
  int64_t largest = 0;
  for (int64_t r : rows_per_user) largest = std::max(largest, r);
  int64_t hi = max_rows_per_user > 0 ? std::min(largest, max_rows_per_user) : largest;
  auto total = [&](int64_t cap) {
    int64_t sum = 0;
    for (int64_t r : rows_per_user) sum += std::min(r, cap);
    return sum;
  };
  if (max_rows <= 0 || total(hi) <= max_rows) return max_rows_per_user > 0 ? hi : 0;
  // The largest cap in [1, hi) whose total fits (total is non-decreasing);
  // at least 1 so that every user keeps their last transition.
  int64_t lo = 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (total(mid) <= max_rows) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

absl::StatusOr<SlistModel> SlistModel::Fit(std::span<const Interaction> events, int32_t num_users,
                                           int32_t num_items, const SlistOptions& o) {
  if (num_items < 0 || num_users < 0) {
    return absl::InvalidArgumentError("SLIST: negative num_users or num_items");
  }
  if (!std::isfinite(o.lambda) || o.lambda <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("SLIST: lambda must be > 0, got ", o.lambda));
  }
  if (!(o.alpha >= 0 && o.alpha <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("SLIST: alpha must be in [0, 1], got ", o.alpha));
  }
  if (o.inputs.window < 1 || !(o.inputs.time_floor >= 0 && o.inputs.time_floor <= 1) ||
      !std::isfinite(o.inputs.position_decay) || !std::isfinite(o.inputs.time_tau_s)) {
    return absl::InvalidArgumentError(
        "SLIST: window must be >= 1, time_floor in [0, 1], decays finite");
  }
  if (o.keep < 0 || o.max_rows_per_user < 0 || o.max_rows < 0) {
    return absl::InvalidArgumentError("SLIST: keep, max_rows_per_user and max_rows must be >= 0");
  }
  const absl::Time start = absl::Now();
  std::vector<ItemIndex> chosen = EaseModel::ChooseItems(events, num_items, o.max_items);
  std::vector<int32_t> position;
  int32_t n32 = num_items;
  if (!chosen.empty()) {
    position.assign(static_cast<size_t>(num_items), -1);
    for (size_t l = 0; l < chosen.size(); ++l) position[chosen[l]] = static_cast<int32_t>(l);
    n32 = static_cast<int32_t>(chosen.size());
  }
  if (n32 > EaseModel::kMaxItems) {
    return absl::InvalidArgumentError(absl::StrCat("SLIST: ", n32, " items exceed the limit of ",
                                                   EaseModel::kMaxItems, " (set max_items)"));
  }
  SlistModel model;
  model.inputs_ = o.inputs;
  const int64_t n = n32;
  if (n == 0) {
    model.b_ = EaseModel::FromDense({}, 0, std::move(chosen), o.keep);
    return model;
  }
  // Each user's covered events, ordered by time (stable: ties keep event order).
  std::vector<std::vector<Interaction>> seqs(static_cast<size_t>(num_users));
  for (const Interaction& e : events) {
    if (e.user < 0 || e.user >= num_users || e.item < 0 || e.item >= num_items) continue;
    const ItemIndex l = position.empty() ? e.item : position[e.item];
    if (l < 0) continue;
    Interaction m = e;
    m.item = l;
    seqs[e.user].push_back(m);
  }
  // Rows per user: every event after the first is a target, the most recent
  // ones first to go when the per-user or total bound applies.
  std::vector<int64_t> candidate_rows(seqs.size());
  for (size_t u = 0; u < seqs.size(); ++u) {
    candidate_rows[u] = std::max<int64_t>(0, static_cast<int64_t>(seqs[u].size()) - 1);
  }
  const int64_t per_user = SlistRowsPerUser(candidate_rows, o.max_rows_per_user, o.max_rows);
  int64_t wanted = 0;  // rows under the per-user bound alone
  for (int64_t r : candidate_rows) {
    wanted += o.max_rows_per_user > 0 ? std::min<int64_t>(r, o.max_rows_per_user) : r;
  }
  if (o.max_rows > 0 && wanted > o.max_rows) {
    LOG(INFO) << "SLIST: the " << o.max_rows << "-row budget keeps each user's " << per_user
              << " most recent targets (" << wanted << " rows without it)";
  }
  candidate_rows = {};
  std::vector<float> a(static_cast<size_t>(n * n), 0.0f);
  // The right-hand side, transposed (rt[j * n + i] = R_ij): LAPACK reads the
  // row-major buffer as R in column-major order, and the solution comes back
  // as B in column-major order (transposed once at the end).
  std::vector<float> rt(static_cast<size_t>(n * n), 0.0f);
  const float alpha = static_cast<float>(o.alpha), beta = 1.0f - alpha;
  std::vector<ItemIndex> distinct, in_items;
  std::vector<float> in_weights;
  std::vector<std::pair<ItemIndex, float>> in;
  int64_t rows = 0;
  for (std::vector<Interaction>& seq : seqs) {
    std::stable_sort(seq.begin(), seq.end(), [](const Interaction& x, const Interaction& y) {
      return x.timestamp_s < y.timestamp_s;
    });
    if (alpha > 0) {  // alpha XtX into both A and R (symmetric: R's transpose is itself)
      distinct.clear();
      for (const Interaction& e : seq) distinct.push_back(e.item);
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      for (ItemIndex x : distinct) {
        float* arow = a.data() + int64_t{x} * n;
        float* rrow = rt.data() + int64_t{x} * n;
        for (ItemIndex y : distinct) {
          arow[y] += alpha;
          rrow[y] += alpha;
        }
      }
    }
    if (beta <= 0) continue;
    const size_t len = seq.size();
    size_t first = 1;
    if (per_user > 0 && len > static_cast<size_t>(per_user) + 1) {
      first = len - static_cast<size_t>(per_user);
    }
    for (size_t t = first; t < len; ++t) {
      InputWeights(o.inputs, std::span<const Interaction>(seq.data(), t), seq[t].timestamp_s,
                   &in_items, &in_weights);
      // Distinct items with their largest weight, as serving's WeightedItems.
      in.clear();
      for (size_t k = 0; k < in_items.size(); ++k) in.emplace_back(in_items[k], in_weights[k]);
      std::sort(in.begin(), in.end(), [](const auto& x, const auto& y) {
        return x.first < y.first || (x.first == y.first && x.second > y.second);
      });
      in.erase(std::unique(in.begin(), in.end(),
                           [](const auto& x, const auto& y) { return x.first == y.first; }),
               in.end());
      const ItemIndex target = seq[t].item;
      float* rrow = rt.data() + int64_t{target} * n;
      for (const auto& [x, wx] : in) {
        float* arow = a.data() + int64_t{x} * n;
        const float bw = beta * wx;
        for (const auto& [y, wy] : in) arow[y] += bw * wy;
        rrow[x] += bw;
      }
      ++rows;
    }
  }
  seqs = {};
  for (int64_t i = 0; i < n; ++i) a[i * n + i] += static_cast<float>(o.lambda);

  const char uplo = 'L';
  const int ni = static_cast<int>(n);
  int info = 0;
  spotrf_(&uplo, &ni, a.data(), &ni, &info, 1);
  if (info != 0) return absl::InternalError(absl::StrCat("SLIST: spotrf failed, info=", info));
  spotrs_(&uplo, &ni, &ni, a.data(), &ni, rt.data(), &ni, &info, 1);
  if (info != 0) return absl::InternalError(absl::StrCat("SLIST: spotrs failed, info=", info));
  std::vector<float>().swap(a);
  // rt now holds B column-major: transpose in place, in tiles, to row-major.
  constexpr int64_t kTile = 64;
  for (int64_t r0 = 0; r0 < n; r0 += kTile) {
    for (int64_t c0 = r0; c0 < n; c0 += kTile) {
      const int64_t r1 = std::min(n, r0 + kTile), c1 = std::min(n, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = std::max(c0, r + 1); c < c1; ++c) std::swap(rt[r * n + c], rt[c * n + r]);
      }
    }
  }
  for (float v : rt) {
    if (!std::isfinite(v)) return absl::InternalError("SLIST: non-finite weights");
  }
  model.b_ = EaseModel::FromDense(std::move(rt), n32, std::move(chosen), o.keep);
  VLOG(1) << "SLIST: " << n << " items, " << rows << " transition rows, lambda " << o.lambda
          << ", alpha " << o.alpha << ", window " << o.inputs.window << ", "
          << model.b_.num_entries() << " entries, fit in "
          << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
  return model;
}

}  // namespace recsys
