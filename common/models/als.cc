#include "common/models/als.h"

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bundle/array_file.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys {
namespace {

constexpr char kItemsFile[] = "als_items.arr";
constexpr char kMetaFile[] = "als_meta.arr";
// als_meta.arr: int64 [4] = {factors, num_items, bits of alpha, bits of reg};
// alpha and reg are IEEE doubles stored bit-exactly (std::bit_cast) so a
// loaded model folds in exactly like the one that was saved.
constexpr int kMetaSize = 4;
constexpr int kMaxFactors = 4096;

using VecF = Eigen::VectorXf;
using MapVecF = Eigen::Map<Eigen::VectorXf>;
using ConstMapVecF = Eigen::Map<const Eigen::VectorXf>;
using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

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

// Runs fn(row) for row in [0, n), row r on thread r % threads. Every row is
// handled by exactly one thread, so per-row outputs do not depend on threads.
template <typename Fn>
void ParallelRows(int threads, int64_t n, Fn&& fn) {
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, std::max<int64_t>(n, 1)));
  auto work = [&](int t) {
    for (int64_t r = t; r < n; r += threads) fn(r, t);
  };
  if (threads == 1) {
    work(0);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (auto& th : pool) th.join();
}

// Gram matrix M^T M (f x f, double) of `m` (rows x f, float). Rows are summed
// in fixed chunks that do not depend on `threads`, then the chunks in order, so
// the result is bit-identical for any thread count.
Eigen::MatrixXd Gram(const float* m, int64_t rows, int f, int threads) {
  const int64_t chunk = std::max<int64_t>(1024, (rows + 255) / 256);
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<double> partial(static_cast<size_t>(chunks) * f * f, 0.0);
  ParallelRows(threads, chunks, [&](int64_t c, int) {
    double* acc = partial.data() + c * f * f;
    std::vector<double> row(f);
    const int64_t end = std::min(rows, (c + 1) * chunk);
    for (int64_t r = c * chunk; r < end; ++r) {
      for (int a = 0; a < f; ++a) row[a] = m[r * f + a];
      for (int a = 0; a < f; ++a) {
        const double ra = row[a];
        double* out = acc + a * f;
        for (int b = a; b < f; ++b) out[b] += ra * row[b];
      }
    }
  });
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(f, f);
  for (int64_t c = 0; c < chunks; ++c) {
    const double* acc = partial.data() + c * f * f;
    for (int a = 0; a < f; ++a) {
      for (int b = a; b < f; ++b) g(a, b) += acc[a * f + b];
    }
  }
  for (int a = 0; a < f; ++a) {
    for (int b = 0; b < a; ++b) g(a, b) = g(b, a);
  }
  return g;
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

// YtY + reg I in float, the constant part of every fold-in's normal equations.
std::vector<float> NormalBase(const Eigen::MatrixXd& yty, double reg) {
  const Eigen::MatrixXf base =
      (yty + reg * Eigen::MatrixXd::Identity(yty.rows(), yty.cols())).cast<float>();
  return std::vector<float>(base.data(), base.data() + base.size());
}

std::string JoinPath(const std::string& dir, const char* name) {
  return absl::StrCat(dir, "/", name);
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

  LOG(INFO) << "ALS: " << num_users << " users, " << num_items << " items, "
            << user_items.cols.size() << " distinct pairs, factors=" << f
            << " iterations=" << iterations << " cg_steps=" << cg_steps << " threads=" << threads;
  Eigen::MatrixXd yty = Gram(ys.data(), num_items, f, threads);
  std::vector<double> losses;
  for (int it = 0; it < iterations; ++it) {
    CgHalfStep(user_items, ys.data(), yty, params.reg, params.alpha, cg_steps, threads, num_users,
               f, xs.data());
    const Eigen::MatrixXd xtx = Gram(xs.data(), num_users, f, threads);
    CgHalfStep(item_users, xs.data(), xtx, params.reg, params.alpha, cg_steps, threads, num_items,
               f, ys.data());
    yty = Gram(ys.data(), num_items, f, threads);
    const double loss =
        Loss(user_items, xs, ys, yty, params.reg, params.alpha, threads, num_users, f);
    losses.push_back(loss);
    const absl::Duration elapsed = absl::Now() - start;
    LOG(INFO) << "ALS iteration " << (it + 1) << "/" << iterations << ": loss " << loss
              << ", elapsed " << absl::FormatDuration(absl::Trunc(elapsed, absl::Milliseconds(1)))
              << ", ETA "
              << absl::FormatDuration(absl::Trunc(elapsed / (it + 1) * (iterations - it - 1),
                                                  absl::Milliseconds(1)));
  }

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

std::vector<float> AlsModel::FoldIn(std::span<const ItemIndex> history) const {
  const std::vector<float> ones(history.size(), 1.0f);
  return FoldIn(history, ones);
}

std::vector<float> AlsModel::FoldIn(std::span<const ItemIndex> history,
                                    std::span<const float> weights) const {
  const int f = factors_;
  std::vector<float> out(f, 0.0f);
  // (item, weight) pairs of known items, grouped by item.
  std::vector<std::pair<ItemIndex, float>> items;
  items.reserve(history.size());
  for (size_t k = 0; k < history.size(); ++k) {
    const ItemIndex i = history[k];
    const float w = k < weights.size() ? weights[k] : 1.0f;
    if (i >= 0 && i < num_items_ && w > 0) items.emplace_back(i, w);
  }
  if (items.empty() || f == 0) return out;
  std::sort(items.begin(), items.end());

  // One row per distinct item: y_i in `rows`, its confidence c_i in `c`.
  RowMatF rows(static_cast<Eigen::Index>(items.size()), f);
  VecF c(static_cast<Eigen::Index>(items.size()));
  Eigen::Index n = 0;
  for (size_t k = 0; k < items.size();) {
    size_t end = k;
    double weight = 0.0;
    while (end < items.size() && items[end].first == items[k].first) weight += items[end++].second;
    rows.row(n) = ConstMapVecF(item_factor(items[k].first), f).transpose();
    c[n] = static_cast<float>(1.0 + alpha_ * weight);
    ++n;
    k = end;
  }
  const auto y = rows.topRows(n);
  const VecF b = y.transpose() * c.head(n);  // Yt C p, p = 1
  // A = YtY + reg I + sum_i (c_i - 1) y_i y_i^T = base + Mt M with the rows
  // of M = sqrt(c_i - 1) y_i: one blocked symmetric rank-n update.
  rows.topRows(n).array().colwise() *= (c.head(n).array() - 1.0f).max(0.0f).sqrt();
  Eigen::MatrixXf a = Eigen::Map<const Eigen::MatrixXf>(normal_base_.data(), f, f);
  a.selfadjointView<Eigen::Lower>().rankUpdate(rows.topRows(n).transpose());
  const Eigen::LLT<Eigen::MatrixXf, Eigen::Lower> llt(a);
  if (llt.info() == Eigen::Success) {
    MapVecF(out.data(), f) = llt.solve(b);
  } else {
    // Only when A is singular (reg = 0 with too few item factors): the
    // pivoted factorisation gives a least-squares answer instead.
    const Eigen::MatrixXd ad = a.cast<double>();
    const Eigen::VectorXd x = ad.selfadjointView<Eigen::Lower>().ldlt().solve(b.cast<double>());
    for (int j = 0; j < f; ++j) out[j] = static_cast<float>(x[j]);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> AlsModel::Save(const std::string& dir) const {
  const int64_t meta[kMetaSize] = {factors_, num_items_, std::bit_cast<int64_t>(alpha_),
                                   std::bit_cast<int64_t>(reg_)};
  RETURN_IF_ERROR(WriteFloatArray(
      JoinPath(dir, kItemsFile),
      {static_cast<uint64_t>(num_items_), static_cast<uint64_t>(factors_)}, item_factors_.data()));
  RETURN_IF_ERROR(WriteInt64Array(JoinPath(dir, kMetaFile), {kMetaSize}, meta));
  return std::vector<std::string>{kItemsFile, kMetaFile};
}

absl::StatusOr<AlsModel> AlsModel::Load(const std::string& dir) {
  const std::string meta_path = JoinPath(dir, kMetaFile);
  const std::string items_path = JoinPath(dir, kItemsFile);
  ASSIGN_OR_RETURN(Array<int64_t> meta, ReadInt64Array(meta_path));
  if (meta.dims.size() != 1 || meta.dims[0] != kMetaSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(meta_path, ": expected an int64 array of ", kMetaSize, " values"));
  }
  const int64_t factors = meta.values[0], num_items = meta.values[1];
  const double alpha = std::bit_cast<double>(meta.values[2]);
  const double reg = std::bit_cast<double>(meta.values[3]);
  if (factors < 1 || factors > kMaxFactors || num_items < 0 || num_items > INT32_MAX ||
      !std::isfinite(alpha) || alpha < 0 || !std::isfinite(reg) || reg < 0) {
    return absl::InvalidArgumentError(absl::StrCat(meta_path, ": bad values factors=", factors,
                                                   " num_items=", num_items, " alpha=", alpha,
                                                   " reg=", reg));
  }
  ASSIGN_OR_RETURN(Array<float> items, ReadFloatArray(items_path));
  if (items.dims.size() != 2 || items.dims[0] != static_cast<uint64_t>(num_items) ||
      items.dims[1] != static_cast<uint64_t>(factors)) {
    std::string dims;
    for (uint64_t d : items.dims) absl::StrAppend(&dims, dims.empty() ? "" : " x ", d);
    return absl::InvalidArgumentError(absl::StrCat(items_path, ": shape [", dims, "] but ",
                                                   kMetaFile, " says ", num_items, " x ", factors));
  }
  AlsModel model;
  model.factors_ = static_cast<int>(factors);
  model.num_items_ = static_cast<int32_t>(num_items);
  model.alpha_ = alpha;
  model.reg_ = reg;
  model.item_factors_ = std::move(items.values);
  const Eigen::MatrixXd yty =
      Gram(model.item_factors_.data(), num_items, model.factors_,
           static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  model.normal_base_ = NormalBase(yty, reg);
  return model;
}

}  // namespace recsys
