// LogisticRanker::Fit (Newton / IRLS) and FitListwise (conditional logit +
// Platt scaling): the fitting half; scoring, Save and Load are in
// logistic_ranker.cc.
#include <algorithm>
#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "common/models/logistic_ranker.h"

namespace recsys {

namespace {

// Platt scaling: (a, c) maximising the likelihood of `labels` under
// sigmoid(a * score + c), by Newton steps. A degenerate or diverging fit
// gives (1, 0), so the scores' order is always kept (a > 0).
std::pair<double, double> PlattFit(std::span<const double> score,
                                   std::span<const uint8_t> labels) {
  double a = 1.0, c = 0.0;
  for (int it = 0; it < 50; ++it) {
    double g0 = 0, g1 = 0, h00 = 1e-9, h01 = 0, h11 = 1e-9;
    for (size_t i = 0; i < score.size(); ++i) {
      const double p = 1.0 / (1.0 + std::exp(-(a * score[i] + c)));
      const double y = labels[i] ? 1.0 : 0.0;
      g0 += (p - y) * score[i];
      g1 += (p - y);
      const double v = p * (1 - p);
      h00 += v * score[i] * score[i];
      h01 += v * score[i];
      h11 += v;
    }
    const double det = h00 * h11 - h01 * h01;
    if (std::abs(det) < 1e-18) break;
    const double da = (h11 * g0 - h01 * g1) / det;
    const double dc = (h00 * g1 - h01 * g0) / det;
    if (!std::isfinite(a - da) || !std::isfinite(c - dc)) break;  // diverging: keep the last
    a -= da;
    c -= dc;
    if (std::abs(da) + std::abs(dc) < 1e-9) break;
  }
  if (!(a > 0) || !std::isfinite(a) || !std::isfinite(c)) return {1.0, 0.0};
  return {a, c};
}

}  // namespace

LogisticRanker LogisticRanker::Fit(const FeatureMatrix& x, std::span<const uint8_t> labels,
                                   const RankerParams& params) {
  const int64_t n = x.rows();
  const int f = static_cast<int>(x.cols());
  LogisticRanker r;
  r.mean_.assign(f, 0.0f);
  r.scale_.assign(f, 1.0f);
  for (int j = 0; j < f; ++j) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += x(i, j);
      sq += double{x(i, j)} * x(i, j);
    }
    const double mean = n ? sum / n : 0.0;
    const double var = n ? sq / n - mean * mean : 0.0;
    r.mean_[j] = static_cast<float>(mean);
    r.scale_[j] = var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.0f;
  }
  // Standardised design matrix with a bias column, in double for the solve.
  Eigen::MatrixXd z(n, f + 1);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < f; ++j) z(i, j) = (x(i, j) - r.mean_[j]) / r.scale_[j];
    z(i, f) = 1.0;
  }
  Eigen::VectorXd w = Eigen::VectorXd::Zero(f + 1);
  Eigen::VectorXd y(n), sample_w(n);
  for (int64_t i = 0; i < n; ++i) {
    y(i) = labels[i] ? 1.0 : 0.0;
    sample_w(i) = labels[i] ? params.positive_weight : 1.0;
  }
  Eigen::MatrixXd reg = Eigen::MatrixXd::Identity(f + 1, f + 1) * params.l2;
  reg(f, f) = 0.0;  // no penalty on the bias
  for (int it = 0; it < params.iterations; ++it) {
    Eigen::VectorXd margin = z * w;
    Eigen::VectorXd p = margin.unaryExpr([](double m) { return 1.0 / (1.0 + std::exp(-m)); });
    Eigen::VectorXd grad = z.transpose() * (sample_w.cwiseProduct(p - y)) + reg * w;
    Eigen::VectorXd curvature = sample_w.cwiseProduct(p.cwiseProduct(
        (Eigen::VectorXd::Ones(n) - p)));
    Eigen::MatrixXd hessian = z.transpose() * curvature.asDiagonal() * z + reg;
    hessian.diagonal().array() += 1e-9;
    Eigen::VectorXd step = hessian.ldlt().solve(grad);
    w -= step;
    if (step.norm() < 1e-7) break;
  }
  r.weights_.resize(f);
  for (int j = 0; j < f; ++j) r.weights_[j] = static_cast<float>(w(j));
  r.bias_ = static_cast<float>(w(f));
  return r;
}

LogisticRanker LogisticRanker::FitListwise(const FeatureMatrix& x,
                                           std::span<const uint8_t> labels,
                                           std::span<const int32_t> group,
                                           const RankerParams& params) {
  // Standardisation as in Fit (shared code path: fit a pointwise model for the
  // means/scales, then replace the weights).
  RankerParams one_step = params;
  one_step.iterations = 0;
  LogisticRanker r = Fit(x, labels, one_step);
  const int64_t n = x.rows();
  const int f = static_cast<int>(x.cols());
  Eigen::MatrixXd z(n, f);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < f; ++j) z(i, j) = (x(i, j) - r.mean_[j]) / r.scale_[j];
  }
  // Group boundaries.
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || group[i] != group[i - 1]) starts.push_back(i);
  }
  starts.push_back(n);
  // Negative log-likelihood of the labelled rows under the per-group softmax.
  auto objective = [&](const Eigen::VectorXd& w) {
    const Eigen::VectorXd s = z * w;
    double loss = 0.5 * params.l2 * w.squaredNorm();
    for (size_t g = 0; g + 1 < starts.size(); ++g) {
      const int64_t a = starts[g], b = starts[g + 1];
      double max_s = -1e300;
      for (int64_t i = a; i < b; ++i) max_s = std::max(max_s, s(i));
      double total = 0;
      for (int64_t i = a; i < b; ++i) total += std::exp(s(i) - max_s);
      const double log_z = max_s + std::log(total);
      for (int64_t i = a; i < b; ++i) {
        if (labels[i]) loss += log_z - s(i);
      }
    }
    return loss;
  };
  Eigen::VectorXd w = Eigen::VectorXd::Zero(f);
  double current = objective(w);
  for (int it = 0; it < params.iterations; ++it) {
    Eigen::VectorXd grad = params.l2 * w;
    Eigen::MatrixXd hessian = params.l2 * Eigen::MatrixXd::Identity(f, f);
    const Eigen::VectorXd s = z * w;
    for (size_t g = 0; g + 1 < starts.size(); ++g) {
      const int64_t a = starts[g], b = starts[g + 1];
      double positives = 0;
      for (int64_t i = a; i < b; ++i) positives += labels[i] ? 1.0 : 0.0;
      if (positives == 0) continue;
      double max_s = -1e300;
      for (int64_t i = a; i < b; ++i) max_s = std::max(max_s, s(i));
      double total = 0;
      Eigen::VectorXd p(b - a);
      for (int64_t i = a; i < b; ++i) total += (p(i - a) = std::exp(s(i) - max_s));
      p /= total;
      const auto block = z.middleRows(a, b - a);
      const Eigen::VectorXd mean = block.transpose() * p;
      for (int64_t i = a; i < b; ++i) {
        if (labels[i]) grad -= z.row(i).transpose() - mean;
      }
      // Covariance of the features under p, once per positive in the group.
      hessian += positives * (block.transpose() * p.asDiagonal() * block - mean * mean.transpose());
    }
    const Eigen::VectorXd step = hessian.ldlt().solve(grad);
    // Backtracking: Newton steps on the softmax loss can overshoot.
    double t = 1.0;
    Eigen::VectorXd next = w - step;
    double value = objective(next);
    while (value > current && t > 1e-4) {
      t *= 0.5;
      next = w - t * step;
      value = objective(next);
    }
    if (value > current) break;
    const double gain = current - value;
    w = next;
    current = value;
    if (gain < 1e-8 * (1.0 + std::abs(current))) break;
  }
  // Platt scaling of the linear score on the pointwise labels.
  const Eigen::VectorXd s = z * w;
  auto [a, c] = PlattFit(std::span<const double>(s.data(), static_cast<size_t>(n)), labels);
  for (int j = 0; j < f; ++j) r.weights_[j] = static_cast<float>(a * w(j));
  r.bias_ = static_cast<float>(c);
  return r;
}

LogisticRanker LogisticRanker::Blended(int column, double beta, const FeatureMatrix& x,
                                       std::span<const uint8_t> labels) const {
  LogisticRanker r = *this;
  if (column < 0 || column >= num_features() || beta == 0) return r;
  r.weights_[column] += static_cast<float>(beta);
  // Platt rescaling of the blended margin.
  std::vector<float> m;
  r.Margins(x, &m);
  const std::vector<double> margins(m.begin(), m.end());
  const auto [a, c] = PlattFit(margins, labels);
  for (float& w : r.weights_) w = static_cast<float>(a * w);
  r.bias_ = static_cast<float>(a * r.bias_ + c);
  return r;
}

}  // namespace recsys
