// Item-item cosine neighbours with shrinkage over binary user-item data:
//   sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink)
// keeping the top `neighbors` per item (CSR). Scoring a history sums the
// neighbour similarities of its items (Sarwar et al. 2001; Deshpande & Karypis 2004).
// Fit lives in itemknn_fit.cc (the fitting library); scoring in itemknn.cc.
// The neighbour lists are saved and loaded as a CSR (csr.h) by the bundle.
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/data/dataset.h"
#include "common/models/csr.h"
#include "common/models/item_votes.h"

namespace recsys {

struct ItemKnnParams {
  int neighbors = 100;
  double shrink = 10.0;
  int threads = 2;
  // Co-occurrences count each user's most recent N distinct items only
  // (0 = all): bounds the fit's cost at events x N (see itemknn_fit.cc).
  int max_user_events = 500;
};

class ItemKnnModel {
 public:
  ItemKnnModel() = default;
  static ItemKnnModel Fit(std::span<const Interaction> events, int32_t num_users,
                          int32_t num_items, const ItemKnnParams& params);
  explicit ItemKnnModel(SparseNeighbors neighbors) : neighbors_(std::move(neighbors)) {}

  // Neighbour-vote scores of the history's items (unknown indices ignored),
  // accumulated into `scores` (item -> score).
  void Score(std::span<const ItemIndex> history,
             absl::flat_hash_map<ItemIndex, float>* scores) const;
  // Weighted votes: item history[k] votes with weights[k] * sim.
  void Score(std::span<const ItemIndex> history, std::span<const float> weights,
             absl::flat_hash_map<ItemIndex, float>* scores) const;
  // The serving path: the same votes, summed in the same order, into `votes`
  // (reset here): only the voted items, in first-vote order, with O(1)
  // lookup. Cost O(votes), independent of the catalogue size.
  void ScoreSparse(std::span<const ItemIndex> history, std::span<const float> weights,
                   ItemVotes* votes) const;
  // The same votes into a dense vector: `scores` is resized to num_items()
  // (zeros where nobody voted) and `voted` lists each item that received a
  // vote once, in first-vote order. O(num_items) per call: the reference
  // ScoreSparse is tested and benchmarked against, not for serving.
  void ScoreDense(std::span<const ItemIndex> history, std::span<const float> weights,
                  std::vector<float>* scores, std::vector<ItemIndex>* voted) const;
  const SparseNeighbors& neighbors() const { return neighbors_; }
  int32_t num_items() const { return neighbors_.rows(); }

 private:
  // Calls vote(j, weight * sim) for every neighbour j of every known history
  // item with a non-zero weight, in history order then neighbour order (the
  // summation order both Score forms share).
  template <typename VoteFn>
  void ForEachVote(std::span<const ItemIndex> history, std::span<const float> weights,
                   VoteFn&& vote) const {
    const int32_t n = neighbors_.rows();
    for (size_t h = 0; h < history.size(); ++h) {
      const ItemIndex i = history[h];
      const float w = h < weights.size() ? weights[h] : 1.0f;
      if (i < 0 || i >= n || w == 0.0f) continue;
      auto ids = neighbors_.row_ids(i);
      auto values = neighbors_.row_values(i);
      for (size_t k = 0; k < ids.size(); ++k) vote(ids[k], w * values[k]);
    }
  }

  SparseNeighbors neighbors_;
};

}  // namespace recsys
