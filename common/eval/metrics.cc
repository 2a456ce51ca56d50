#include "common/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace recsys {
namespace {

bool Contains(std::span<const ItemIndex> items, ItemIndex x) {
  return std::find(items.begin(), items.end(), x) != items.end();
}

size_t Cutoff(std::span<const ItemIndex> ranked, int k) {
  return std::min(ranked.size(), static_cast<size_t>(std::max(k, 0)));
}

}  // namespace

double RecallAtK(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant, int k) {
  if (relevant.empty()) return 0.0;
  const size_t n = Cutoff(ranked, k);
  int hits = 0;
  for (size_t i = 0; i < n; ++i) hits += Contains(relevant, ranked[i]);
  return static_cast<double>(hits) / relevant.size();
}

double NdcgAtK(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant, int k) {
  if (relevant.empty()) return 0.0;
  const size_t n = Cutoff(ranked, k);
  double dcg = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (Contains(relevant, ranked[i])) dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  }
  double idcg = 0.0;
  const size_t ideal = std::min(relevant.size(), static_cast<size_t>(std::max(k, 0)));
  for (size_t i = 0; i < ideal; ++i) idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  return idcg > 0 ? dcg / idcg : 0.0;
}

double AveragePrecisionAtK(std::span<const ItemIndex> ranked, std::span<const ItemIndex> relevant,
                           int k) {
  if (relevant.empty() || k <= 0) return 0.0;
  const size_t n = Cutoff(ranked, k);
  int hits = 0;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (Contains(relevant, ranked[i])) {
      ++hits;
      sum += static_cast<double>(hits) / static_cast<double>(i + 1);
    }
  }
  return sum / static_cast<double>(std::min(relevant.size(), static_cast<size_t>(k)));
}

double Auc(std::span<const float> scores, std::span<const uint8_t> labels) {
  const size_t n = std::min(scores.size(), labels.size());
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0.0;
  int64_t positives = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t t = i; t < j; ++t) {
      if (labels[order[t]]) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    i = j;
  }
  const int64_t negatives = static_cast<int64_t>(n) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  const double u = positive_rank_sum - static_cast<double>(positives) * (positives + 1) / 2.0;
  return u / (static_cast<double>(positives) * static_cast<double>(negatives));
}

CaseMetrics MetricAccumulator::Add(std::span<const ItemIndex> ranked,
                                   std::span<const ItemIndex> relevant) {
  ++users_;
  const double recall = RecallAtK(ranked, relevant, k_);
  const double ndcg = NdcgAtK(ranked, relevant, k_);
  const double ap = AveragePrecisionAtK(ranked, relevant, k_);
  recall_sum_ += recall;
  ndcg_sum_ += ndcg;
  ap_sum_ += ap;
  recall_sq_ += recall * recall;
  ndcg_sq_ += ndcg * ndcg;
  ap_sq_ += ap * ap;
  const size_t n = std::min(ranked.size(), static_cast<size_t>(std::max(k_, 0)));
  if (n > 0 && exposure_.empty() && num_items_ > 0) exposure_.assign(num_items_, 0);
  for (size_t i = 0; i < n; ++i) {
    const ItemIndex item = ranked[i];
    if (item < 0 || item >= num_items_) continue;
    if (exposure_[item]++ == 0) ++distinct_;
  }
  if (quality_ != nullptr) {
    const std::span<const ItemIndex> top = ranked.first(n);
    if (const std::optional<double> d = quality_->Diversity(top)) {
      diversity_sum_ += *d;
      ++diversity_lists_;
    }
    if (const std::optional<double> v = quality_->Novelty(top)) {
      novelty_sum_ += *v;
      ++novelty_lists_;
    }
  }
  return CaseMetrics{recall, ndcg, ap};
}

void MetricAccumulator::Merge(const MetricAccumulator& other) {
  users_ += other.users_;
  recall_sum_ += other.recall_sum_;
  ndcg_sum_ += other.ndcg_sum_;
  ap_sum_ += other.ap_sum_;
  recall_sq_ += other.recall_sq_;
  ndcg_sq_ += other.ndcg_sq_;
  ap_sq_ += other.ap_sq_;
  diversity_sum_ += other.diversity_sum_;
  novelty_sum_ += other.novelty_sum_;
  diversity_lists_ += other.diversity_lists_;
  novelty_lists_ += other.novelty_lists_;
  if (other.exposure_.empty()) return;
  if (exposure_.empty()) exposure_.assign(num_items_, 0);
  const size_t n = std::min(exposure_.size(), other.exposure_.size());
  for (size_t i = 0; i < n; ++i) {
    if (other.exposure_[i] == 0) continue;
    if (exposure_[i] == 0) ++distinct_;
    exposure_[i] += other.exposure_[i];
  }
}

double MetricAccumulator::exposure_gini() const {
  std::vector<double> nonzero;
  nonzero.reserve(distinct_);
  for (uint32_t c : exposure_) {
    if (c > 0) nonzero.push_back(static_cast<double>(c));
  }
  return GiniCoefficient(nonzero, num_items_);
}

double MetricAccumulator::HalfWidth(double sum, double sq) const {
  if (users_ < 2) return 0.0;
  const double n = static_cast<double>(users_);
  const double mean = sum / n;
  const double var = std::max(0.0, (sq - n * mean * mean) / (n - 1));
  return 1.96 * std::sqrt(var / n);
}

}  // namespace recsys
