// Logistic-regression click model over standardised features.
//   p = sigmoid(w . ((x - mean) / scale) + b)
// Fit by Newton's method (IRLS) with L2 regularisation. Scoring a batch is one
// Eigen matrix-vector product plus the sigmoid.
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <Eigen/Dense>

namespace recsys {

using FeatureMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct RankerParams {
  double l2 = 1.0;
  int iterations = 25;
  // Positive rows weigh this much more than negatives (class imbalance).
  double positive_weight = 1.0;
};

class LogisticRanker {
 public:
  LogisticRanker() = default;
  // x: rows x features; labels 0/1 per row.
  static LogisticRanker Fit(const FeatureMatrix& x, std::span<const uint8_t> labels,
                            const RankerParams& params);
  // Probabilities for every row of x (size rows).
  void Score(const FeatureMatrix& x, std::vector<float>* out) const;
  int num_features() const { return static_cast<int>(weights_.size()); }
  const std::vector<float>& weights() const { return weights_; }
  float bias() const { return bias_; }

  // ranker.arr: [bias, weights..., means..., scales...]; returns the file names.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;
  static absl::StatusOr<LogisticRanker> Load(const std::string& dir, int expected_features);

 private:
  std::vector<float> weights_, mean_, scale_;
  float bias_ = 0;
};

}  // namespace recsys
