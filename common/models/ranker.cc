#include "common/models/ranker.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/status.h"

namespace recsys {

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

void LogisticRanker::Score(const FeatureMatrix& x, std::vector<float>* out) const {
  const int f = num_features();
  // Fold the standardisation into the weights: w' = w / scale, b' = b - sum w' mean.
  Eigen::VectorXf w(f);
  float b = bias_;
  for (int j = 0; j < f; ++j) {
    w(j) = weights_[j] / scale_[j];
    b -= w(j) * mean_[j];
  }
  Eigen::VectorXf margin = x * w;
  out->resize(x.rows());
  for (int64_t i = 0; i < x.rows(); ++i) {
    (*out)[i] = 1.0f / (1.0f + std::exp(-(margin(i) + b)));
  }
}

absl::StatusOr<std::vector<std::string>> LogisticRanker::Save(const std::string& dir) const {
  std::vector<float> packed;
  packed.push_back(bias_);
  packed.insert(packed.end(), weights_.begin(), weights_.end());
  packed.insert(packed.end(), mean_.begin(), mean_.end());
  packed.insert(packed.end(), scale_.begin(), scale_.end());
  RETURN_IF_ERROR(WriteFloatArray(dir + "/ranker.arr", {packed.size()}, packed.data()));
  return std::vector<std::string>{"ranker.arr"};
}

absl::StatusOr<LogisticRanker> LogisticRanker::Load(const std::string& dir, int expected_features) {
  ASSIGN_OR_RETURN(auto a, ReadFloatArray(dir + "/ranker.arr"));
  const size_t f = static_cast<size_t>(expected_features);
  if (a.values.size() != 1 + 3 * f) {
    return absl::DataLossError(absl::StrCat(dir, "/ranker.arr: ", a.values.size(),
                                            " values, expected ", 1 + 3 * f,
                                            " for ", f, " features"));
  }
  LogisticRanker r;
  r.bias_ = a.values[0];
  r.weights_.assign(a.values.begin() + 1, a.values.begin() + 1 + f);
  r.mean_.assign(a.values.begin() + 1 + f, a.values.begin() + 1 + 2 * f);
  r.scale_.assign(a.values.begin() + 1 + 2 * f, a.values.end());
  for (float s : r.scale_) {
    if (!(s > 0) || !std::isfinite(s)) return absl::DataLossError(dir + "/ranker.arr: bad scale");
  }
  return r;
}

}  // namespace recsys
