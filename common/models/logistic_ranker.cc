// LogisticRanker scoring, Save and Load (the serving half; Fit and
// FitListwise are in logistic_ranker_fit.cc).
#include "common/models/logistic_ranker.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/status.h"

namespace recsys {

void LogisticRanker::Score(const FeatureMatrix& x, std::vector<float>* out) const {
  Margins(x, out);
  for (float& m : *out) m = 1.0f / (1.0f + std::exp(-m));
}

void LogisticRanker::Margins(const FeatureMatrix& x, std::vector<float>* out) const {
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
    (*out)[i] = margin(i) + b;
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
