// AlsModel::Fit: implicit ALS with conjugate-gradient half-steps (the
// fitting half; fold-in, Save and Load are in als.cc).
#include <Eigen/Dense>
#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/vlog.h"
#include "common/models/als.h"
#include "common/models/als_gram.h"

namespace recsys {
namespace {

using als_internal::Gram;
using als_internal::kMaxFactors;
using als_internal::NormalBase;
using als_internal::ParallelRows;

using VecF = Eigen::VectorXf;
using MapVecF = Eigen::Map<Eigen::VectorXf>;
using ConstMapVecF = Eigen::Map<const Eigen::VectorXf>;

// CSR rows -> sorted distinct columns with their event counts.
struct WeightedCsr {
  std::vector<int64_t> offsets;  // size rows + 1
  std::vector<int32_t> cols;
  std::vector<float> counts;
  int64_t row_size(int32_t r) const { return offsets[r + 1] - offsets[r]; }
};

// Merges duplicate (row, col) pairs into counts. `pairs` is consumed.
WeightedCsr BuildCsr(std::vector<std::pair<int32_t, int32_t>> pairs, int32_t rows) {
  std::sort(pairs.begin(), pairs.end());
  WeightedCsr csr;
  csr.offsets.assign(static_cast<size_t>(rows) + 1, 0);
  for (size_t k = 0; k < pairs.size();) {
    size_t end = k;
    while (end < pairs.size() && pairs[end] == pairs[k]) ++end;
    csr.cols.push_back(pairs[k].second);
    csr.counts.push_back(static_cast<float>(end - k));
    ++csr.offsets[pairs[k].first + 1];
    k = end;
  }
  for (int32_t r = 0; r < rows; ++r) csr.offsets[r + 1] += csr.offsets[r];
  return csr;
}

// One ALS half-step: for each row r of `x` (rows x f), `cg_steps` conjugate-
// gradient iterations on (YtY + reg I + sum_i (c_ri - 1) y_i y_i^T) x_r =
// sum_i c_ri y_i, warm-started from the current x_r; `adj` lists row r's
// columns (rows of `y`) with counts, c = 1 + alpha * count. The matrix is
// applied implicitly: O(cg_steps (|row| f + f^2)) per row.
void CgHalfStep(const WeightedCsr& adj, const float* y, const Eigen::MatrixXd& gram, double reg,
                double alpha, int cg_steps, int threads, int64_t rows, int f, float* x) {
  const Eigen::MatrixXf a0 =
      (gram + reg * Eigen::MatrixXd::Identity(f, f)).cast<float>();  // YtY + reg I
  const float alpha_f = static_cast<float>(alpha);
  const int nthreads = std::max(1, threads);
  // Per-thread scratch (r, p, Ap).
  std::vector<VecF> rs(nthreads, VecF(f)), ps(nthreads, VecF(f)), aps(nthreads, VecF(f));
  ParallelRows(threads, rows, [&](int64_t row, int t) {
    MapVecF xr(x + row * f, f);
    const int64_t begin = adj.offsets[row], end = adj.offsets[row + 1];
    if (begin == end) {  // b = 0: the solution is 0
      xr.setZero();
      return;
    }
    VecF& r = rs[t];
    VecF& p = ps[t];
    VecF& ap = aps[t];
    // r = b - A x
    r.noalias() = -(a0 * xr);
    for (int64_t k = begin; k < end; ++k) {
      ConstMapVecF yi(y + int64_t{adj.cols[k]} * f, f);
      const float cm1 = alpha_f * adj.counts[k];  // c - 1
      r += (1.0f + cm1 - cm1 * yi.dot(xr)) * yi;
    }
    p = r;
    float rs_old = r.squaredNorm();
    for (int it = 0; it < cg_steps && rs_old > 1e-20f; ++it) {
      ap.noalias() = a0 * p;
      for (int64_t k = begin; k < end; ++k) {
        ConstMapVecF yi(y + int64_t{adj.cols[k]} * f, f);
        ap += (alpha_f * adj.counts[k] * yi.dot(p)) * yi;
      }
      const float pap = p.dot(ap);
      if (!(pap > 0.0f)) break;
      const float step = rs_old / pap;
      xr += step * p;
      r -= step * ap;
      const float rs_new = r.squaredNorm();
      p = r + (rs_new / rs_old) * p;
      rs_old = rs_new;
    }
  });
}

// Loss of the header: sum_ui c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2),
// with the unobserved pairs summed through YtY: O(nnz f + users f^2).
double Loss(const WeightedCsr& user_items, const std::vector<float>& xs,
            const std::vector<float>& ys, const Eigen::MatrixXd& yty, double reg, double alpha,
            int threads, int32_t num_users, int f) {
  std::vector<double> per_user(num_users, 0.0);
  ParallelRows(threads, num_users, [&](int64_t u, int) {
    const Eigen::VectorXd xu = ConstMapVecF(xs.data() + u * f, f).cast<double>();
    double l = xu.dot(yty * xu) + reg * xu.squaredNorm();
    for (int64_t k = user_items.offsets[u]; k < user_items.offsets[u + 1]; ++k) {
      const double s =
          ConstMapVecF(ys.data() + int64_t{user_items.cols[k]} * f, f).cast<double>().dot(xu);
      const double c = 1.0 + alpha * user_items.counts[k];
      l += c * (1.0 - s) * (1.0 - s) - s * s;
    }
    per_user[u] = l;
  });
  double loss = 0;
  for (double l : per_user) loss += l;
  double ynorm = 0;
  for (float v : ys) ynorm += double{v} * v;
  return loss + reg * ynorm;
}

}  // namespace

AlsModel AlsModel::Fit(std::span<const Interaction> events, int32_t num_users, int32_t num_items,
                       const AlsParams& params, AlsFitInfo* info) {
  const absl::Time start = absl::Now();
  num_users = std::max(num_users, 0);
  num_items = std::max(num_items, 0);
  const int f = std::clamp(params.factors, 1, kMaxFactors);
  const int iterations = std::max(params.iterations, 0);
  const int cg_steps = std::max(params.cg_steps, 1);
  const int threads = std::max(params.threads, 1);

  std::vector<std::pair<int32_t, int32_t>> ui, iu;
  ui.reserve(events.size());
  int64_t skipped = 0;
  for (const Interaction& e : events) {
    if (e.user < 0 || e.user >= num_users || e.item < 0 || e.item >= num_items) {
      ++skipped;
      continue;
    }
    ui.emplace_back(e.user, e.item);
  }
  if (skipped > 0) {
    LOG(WARNING) << "ALS: skipped " << skipped << " events with bad indices";
  }
  iu.reserve(ui.size());
  for (const auto& [u, i] : ui) iu.emplace_back(i, u);
  const WeightedCsr user_items = BuildCsr(std::move(ui), num_users);
  const WeightedCsr item_users = BuildCsr(std::move(iu), num_items);

  std::mt19937_64 rng(params.seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  std::vector<float> xs(static_cast<size_t>(num_users) * f), ys(static_cast<size_t>(num_items) * f);
  for (float& v : xs) v = noise(rng);
  for (float& v : ys) v = noise(rng);

  VLOG(1) << "ALS: " << num_users << " users, " << num_items << " items, "
            << user_items.cols.size() << " distinct pairs, factors=" << f
            << " iterations=" << iterations << " cg_steps=" << cg_steps << " threads=" << threads;
  Eigen::MatrixXd yty = Gram(ys.data(), num_items, f, threads);
  std::vector<double> losses;
  // A line with ETA every 10 s for a long fit; each iteration's loss at --v 1.
  Progress progress("fit als (iterations)", iterations, absl::Seconds(10));
  for (int it = 0; it < iterations; ++it) {
    CgHalfStep(user_items, ys.data(), yty, params.reg, params.alpha, cg_steps, threads, num_users,
               f, xs.data());
    const Eigen::MatrixXd xtx = Gram(xs.data(), num_users, f, threads);
    CgHalfStep(item_users, xs.data(), xtx, params.reg, params.alpha, cg_steps, threads, num_items,
               f, ys.data());
    yty = Gram(ys.data(), num_items, f, threads);
    // The loss (about a tenth of an iteration's cost) decides early stopping.
    const double loss =
        Loss(user_items, xs, ys, yty, params.reg, params.alpha, threads, num_users, f);
    const double previous = losses.empty() ? 0.0 : losses.back();
    losses.push_back(loss);
    const bool converged = params.tolerance > 0 && previous > 0 &&
                           (previous - loss) < params.tolerance * previous;
    const absl::Duration elapsed = absl::Now() - start;
    if (converged) {
      VLOG(1) << "ALS iteration " << (it + 1) << "/" << iterations << ": loss " << loss
              << ", improved by less than " << params.tolerance
              << " of the previous: converged, elapsed "
              << absl::FormatDuration(absl::Trunc(elapsed, absl::Milliseconds(1)));
      break;
    }
    progress.Add();
    VLOG(1) << "ALS iteration " << (it + 1) << "/" << iterations << ": loss " << loss
            << ", elapsed " << absl::FormatDuration(absl::Trunc(elapsed, absl::Milliseconds(1)))
            << ", ETA "
            << absl::FormatDuration(absl::Trunc(elapsed / (it + 1) * (iterations - it - 1),
                                                absl::Milliseconds(1)));
  }
  progress.Done();

  AlsModel model;
  model.factors_ = f;
  model.num_items_ = num_items;
  model.alpha_ = params.alpha;
  model.reg_ = params.reg;
  model.item_factors_ = std::move(ys);
  model.normal_base_ = NormalBase(yty, params.reg);
  if (info != nullptr) {
    info->user_factors = std::move(xs);
    info->loss = std::move(losses);
  }
  return model;
}

}  // namespace recsys
