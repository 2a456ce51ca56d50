// Beyond-accuracy metrics of recommendation lists, shared by the offline
// evaluator (per leaderboard row) and the gateway (per served list):
//   intra-list diversity  mean over the list's item pairs of 1 - cos(a, b) of
//                         the items' content embeddings (0 = identical items;
//                         LSA embeddings can point apart, so up to 2)
//   novelty               mean self-information -log2 p(item) of the list's
//                         items in bits, p = the item's share of the training
//                         interactions (an item with fewer than one counts as
//                         one: unseen items get the largest finite value)
//   exposure Gini         inequality of recommended slots over the catalogue's
//                         items, never-recommended items counted as zeros
//                         (0 = every item equally often, (n-1)/n = one item
//                         takes every slot)
// Catalogue coverage (distinct recommended items / catalogue size) stays in
// MetricAccumulator (metrics.h).
//
// Threading: ListQuality is an immutable view; its const methods are safe to
// call concurrently. Ownership: it points into arrays the caller keeps alive
// (the bundle's content embeddings and catalogue popularity).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/data/dataset.h"

namespace recsys {

class ListQuality {
 public:
  ListQuality() = default;
  // `embeddings`: num_items x `dim` floats, row-major (empty: no diversity);
  // an all-zero row means the item has no embedding (the content model gives
  // those to items with no known token). `popularity`: per item training
  // interaction counts (empty: no novelty), summing to `popularity_total`.
  ListQuality(std::span<const float> embeddings, int dim, std::span<const float> popularity,
              double popularity_total);

  bool has_diversity() const { return dim_ > 0 && !embeddings_.empty(); }
  bool has_novelty() const { return popularity_total_ > 0 && !popularity_.empty(); }
  // The same view without the embeddings (novelty only).
  ListQuality WithoutDiversity() const { return ListQuality({}, 0, popularity_, popularity_total_); }

  // Mean 1 - cosine over the pairs of `items`. A pair is skipped when either
  // item has no embedding (zero row) or lies outside the embedding table: a
  // list of such items says nothing about content. nullopt when no pair is
  // left (fewer than two embedded items) or without embeddings.
  // Cost: O(n * dim) for the norms plus O(n^2 / 2 * dim) for the pairs.
  std::optional<double> Diversity(std::span<const ItemIndex> items) const;
  // Self-information of one item in bits: -log2(max(count, 1) / total).
  double SelfInformation(ItemIndex item) const;
  // Mean SelfInformation over `items`; nullopt for an empty list or without
  // popularity. Items outside the popularity table count as unseen. O(n).
  std::optional<double> Novelty(std::span<const ItemIndex> items) const;

 private:
  std::span<const float> embeddings_;
  int dim_ = 0;
  int64_t embedded_items_ = 0;  // rows in embeddings_
  std::span<const float> popularity_;
  double popularity_total_ = 0;
};

// Sum of `counts` (the popularity_total of a ListQuality).
double PopularityTotal(std::span<const float> counts);

// Gini coefficient of `n` non-negative values of which only `nonzero` are
// given (the other n - nonzero.size() are 0): sum_ij |x_i - x_j| / (2 n^2 mean).
// 0 when every value is equal (or all are 0); (n-1)/n when one value holds
// everything. `n` below nonzero.size() is taken as nonzero.size().
// O(m log m) for m = nonzero.size().
double GiniCoefficient(std::span<const double> nonzero, int64_t n);
// The same over groups of equal values: (value, how many items have it).
// O(g log g) for g groups; `groups` is sorted in place.
double GiniOfGroups(std::vector<std::pair<double, double>>* groups);

}  // namespace recsys
