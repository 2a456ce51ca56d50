// Ranking metrics for top-k lists. `ranked` is best-first; `relevant` holds the
// relevant items (one held-out item in the leave-last-out protocol, where the
// formulas reduce to: recall = hit, NDCG = 1/log2(rank0+2), AP = 1/rank1).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/data/dataset.h"

namespace recsys {

// |top-k ∩ relevant| / |relevant|; 0 when `relevant` is empty.
double RecallAtK(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant, int k);
// DCG@k / IDCG@k with binary gains and 1/log2(rank0 + 2) discounts.
double NdcgAtK(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant, int k);
// Average precision at k: sum of precision@i at each hit / min(|relevant|, k).
double AveragePrecisionAtK(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant,
                           int k);
// Area under the ROC curve from scores and binary labels, ties counted as 1/2
// (Mann-Whitney U with average ranks). 0.5 when one class is empty.
double Auc(std::span<const float> scores, std::span<const uint8_t> labels);

// One case's metrics at k.
struct CaseMetrics {
  double recall = 0, ndcg = 0, ap = 0;
};

// Accumulates per-user metrics and the catalogue coverage of the top-k lists.
class MetricAccumulator {
 public:
  MetricAccumulator(int k, int32_t num_items) : k_(k), num_items_(num_items) {}
  // Adds one case; returns its metrics (for per-case results).
  CaseMetrics Add(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant);
  // Merges another accumulator (same k and catalogue).
  void Merge(const MetricAccumulator& other);

  int64_t users() const { return users_; }
  double recall() const { return users_ ? recall_sum_ / users_ : 0.0; }
  double ndcg() const { return users_ ? ndcg_sum_ / users_ : 0.0; }
  double map() const { return users_ ? ap_sum_ / users_ : 0.0; }
  // Half-widths of the 95% confidence intervals of the three means (normal
  // approximation over users: 1.96 * sample sd / sqrt(users)); 0 with < 2 users.
  double recall_ci95() const { return HalfWidth(recall_sum_, recall_sq_); }
  double ndcg_ci95() const { return HalfWidth(ndcg_sum_, ndcg_sq_); }
  double map_ci95() const { return HalfWidth(ap_sum_, ap_sq_); }
  // Distinct items recommended in any top-k / catalogue size.
  double coverage() const {
    return num_items_ ? static_cast<double>(recommended_.size()) / num_items_ : 0.0;
  }

 private:
  int k_;
  int32_t num_items_;
  int64_t users_ = 0;
  double HalfWidth(double sum, double sq) const;
  double recall_sum_ = 0, ndcg_sum_ = 0, ap_sum_ = 0;
  double recall_sq_ = 0, ndcg_sq_ = 0, ap_sq_ = 0;  // sums of squares
  absl::flat_hash_set<ItemIndex> recommended_;
};

}  // namespace recsys
