// Ranking metrics for top-k lists. `ranked` is best-first; `relevant` holds the
// relevant items (one held-out item in the leave-last-out protocol, where the
// formulas reduce to: recall = hit, NDCG = 1/log2(rank0+2), AP = 1/rank1).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/data/dataset.h"
#include "common/eval/list_metrics.h"

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

// Accumulates per-user metrics and the catalogue coverage of the top-k lists,
// and with a ListQuality the beyond-accuracy metrics of those lists
// (list_metrics.h): diversity and novelty per list, averaged over the lists
// that have one, and the Gini coefficient of item exposure.
// Memory: the exposure counts are one flat array of num_items uint32
// (allocated by the first Add: 4 MB for a million items), so each list costs
// O(k) for exposure, O(k^2 * dim) for diversity.
class MetricAccumulator {
 public:
  // `quality` (may be null: no diversity or novelty) must outlive the
  // accumulator and every one merged into it.
  MetricAccumulator(int k, int32_t num_items, const ListQuality* quality = nullptr)
      : k_(k), num_items_(num_items), quality_(quality) {}
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
  // (Items outside [0, num_items) are not counted.)
  double coverage() const {
    return num_items_ ? static_cast<double>(distinct_) / num_items_ : 0.0;
  }
  // Mean intra-list diversity of the top-k lists with at least one pair of
  // embedded items; nullopt without embeddings or without such a list.
  std::optional<double> diversity() const {
    if (diversity_lists_ == 0) return std::nullopt;
    return diversity_sum_ / static_cast<double>(diversity_lists_);
  }
  // Mean novelty (bits) of the non-empty top-k lists; nullopt without
  // popularity or without such a list.
  std::optional<double> novelty() const {
    if (novelty_lists_ == 0) return std::nullopt;
    return novelty_sum_ / static_cast<double>(novelty_lists_);
  }
  // Gini coefficient of the top-k slots over the num_items items (those never
  // recommended count as zeros); 0 before any slot. O(num_items + m log m) for
  // m distinct items recommended.
  double exposure_gini() const;

 private:
  int k_;
  int32_t num_items_;
  const ListQuality* quality_;
  int64_t users_ = 0;
  double HalfWidth(double sum, double sq) const;
  double recall_sum_ = 0, ndcg_sum_ = 0, ap_sum_ = 0;
  double recall_sq_ = 0, ndcg_sq_ = 0, ap_sq_ = 0;  // sums of squares
  // Top-k slots per item (empty until the first slot) and how many are > 0.
  std::vector<uint32_t> exposure_;
  int64_t distinct_ = 0;
  double diversity_sum_ = 0, novelty_sum_ = 0;
  int64_t diversity_lists_ = 0, novelty_lists_ = 0;
};

}  // namespace recsys
