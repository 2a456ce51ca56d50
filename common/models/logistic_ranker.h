// Logistic-regression click model over standardised features.
//   p = sigmoid(w . ((x - mean) / scale) + b)
// Fit by Newton's method (IRLS) with L2 regularisation. Scoring a batch is one
// Eigen matrix-vector product plus the sigmoid.
// Fit and FitListwise live in logistic_ranker_fit.cc (the fitting library);
// scoring, Save and Load in logistic_ranker.cc.
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
  // Listwise fit for pools with one chosen item: maximises the softmax
  // likelihood of the labelled row within its group (conditional logit;
  // rows of a group are contiguous, `group` non-decreasing), then Platt-scales
  // the linear score on the pointwise labels so Score still returns click
  // probabilities. The ranking within a pool is the softmax model's.
  static LogisticRanker FitListwise(const FeatureMatrix& x, std::span<const uint8_t> labels,
                                    std::span<const int32_t> group, const RankerParams& params);
  // Probabilities for every row of x (size rows).
  void Score(const FeatureMatrix& x, std::vector<float>* out) const;
  // Logits (log-odds) for every row: the ranking key. Probabilities saturate
  // to exactly 0 or 1 in float for confident rows, logits never tie that way.
  void Margins(const FeatureMatrix& x, std::vector<float>* out) const;
  // This model with `beta` added to the weight of feature `column` (in its
  // standardised units: beta = 1 adds one standard deviation of that feature
  // per unit of margin), the order of a blend of the model and that feature;
  // then Platt-rescaled (margin a * m + c) on `x` / `labels` so Score still
  // returns click probabilities. In the fitting library.
  LogisticRanker Blended(int column, double beta, const FeatureMatrix& x,
                         std::span<const uint8_t> labels) const;
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
