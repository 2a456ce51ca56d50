#include "common/eval/list_metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/container/inlined_vector.h"
#include "common/dot.h"

namespace recsys {

ListQuality::ListQuality(std::span<const float> embeddings, int dim,
                         std::span<const float> popularity, double popularity_total)
    : embeddings_(embeddings),
      dim_(dim > 0 ? dim : 0),
      embedded_items_(dim > 0 ? static_cast<int64_t>(embeddings.size()) / dim : 0),
      popularity_(popularity),
      popularity_total_(popularity_total) {}

std::optional<double> ListQuality::Diversity(std::span<const ItemIndex> items) const {
  if (!has_diversity() || items.size() < 2) return std::nullopt;
  // The embedded items of the list with their norms (rows are L2-normalised
  // by the content model; the norm makes this a cosine whatever they are).
  absl::InlinedVector<const float*, 32> rows;
  absl::InlinedVector<double, 32> norms;
  for (ItemIndex item : items) {
    if (item < 0 || item >= embedded_items_) continue;
    const float* row = embeddings_.data() + int64_t{item} * dim_;
    const double norm = std::sqrt(static_cast<double>(Dot(row, row, dim_)));
    if (norm == 0.0) continue;  // no embedding: its pairs are skipped
    rows.push_back(row);
    norms.push_back(norm);
  }
  if (rows.size() < 2) return std::nullopt;
  double sum = 0.0;
  int64_t pairs = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = i + 1; j < rows.size(); ++j) {
      const double cosine = static_cast<double>(Dot(rows[i], rows[j], dim_)) / (norms[i] * norms[j]);
      sum += 1.0 - std::clamp(cosine, -1.0, 1.0);
      ++pairs;
    }
  }
  return sum / static_cast<double>(pairs);
}

double ListQuality::SelfInformation(ItemIndex item) const {
  if (!has_novelty()) return 0.0;
  double count = 0.0;
  if (item >= 0 && static_cast<size_t>(item) < popularity_.size()) count = popularity_[item];
  // The floor: an item never (or fractionally) seen in training counts as
  // seen once, so its information is finite (log2 of the training events).
  return -std::log2(std::max(count, 1.0) / popularity_total_);
}

std::optional<double> ListQuality::Novelty(std::span<const ItemIndex> items) const {
  if (!has_novelty() || items.empty()) return std::nullopt;
  double sum = 0.0;
  for (ItemIndex item : items) sum += SelfInformation(item);
  return sum / static_cast<double>(items.size());
}

double PopularityTotal(std::span<const float> counts) {
  double total = 0.0;
  for (float c : counts) total += c;
  return total;
}

double GiniOfGroups(std::vector<std::pair<double, double>>* groups) {
  std::sort(groups->begin(), groups->end());
  // Ascending values x_(1) <= ... <= x_(n): G = 2 sum_i i x_(i) / (n sum x) - (n + 1) / n.
  // A group of c equal values v at ranks a+1..a+c adds v (c a + c (c + 1) / 2).
  double n = 0.0, sum = 0.0, weighted = 0.0;
  for (const auto& [value, count] : *groups) {
    if (count <= 0) continue;
    weighted += value * (count * n + count * (count + 1) / 2.0);
    sum += value * count;
    n += count;
  }
  if (n == 0.0 || sum <= 0.0) return 0.0;
  return std::clamp(2.0 * weighted / (n * sum) - (n + 1.0) / n, 0.0, 1.0);
}

double GiniCoefficient(std::span<const double> nonzero, int64_t n) {
  std::vector<std::pair<double, double>> groups;
  groups.reserve(nonzero.size() + 1);
  for (double v : nonzero) groups.emplace_back(v, 1.0);
  const int64_t zeros = n - static_cast<int64_t>(nonzero.size());
  if (zeros > 0) groups.emplace_back(0.0, static_cast<double>(zeros));
  return GiniOfGroups(&groups);
}

}  // namespace recsys
