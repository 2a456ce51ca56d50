// Shared by the vector sources (content, ALS, sequence): a vector search that
// never returns an excluded item (nor, on a shard, another shard's), as a
// candidate list.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/index/vector_index.h"
#include "common/retrieval/user_state.h"
#include "common/topk.h"

namespace recsys::retrieval {

inline std::vector<ScoredIndex> ToScored(const std::vector<Neighbor>& neighbors,
                                         const UserState& state) {
  std::vector<ScoredIndex> out;
  out.reserve(neighbors.size());
  for (const Neighbor& n : neighbors) {
    const auto item = static_cast<ItemIndex>(n.id);
    if (state.shard != nullptr && !state.shard->Owns(item)) continue;
    out.push_back(ScoredIndex{item, n.score});
  }
  return out;
}

// The `k` nearest items to `query` (index.dim() floats) in the whole `index`,
// best first, none of them in state.exclude; on a shard, the owned ones among
// those k (fewer than k). Cost: one search over the index.
inline absl::StatusOr<std::vector<ScoredIndex>> SearchExcluding(const VectorIndex& index,
                                                                const float* query, int k,
                                                                const UserState& state) {
  auto neighbors = index.Search(query, k, state.exclude_sorted);
  if (!neighbors.ok()) return neighbors.status();
  return ToScored(*neighbors, state);
}

// The `k` nearest items to `query` among those a source may return: the
// whole catalogue, or on a shard its own items (the sliced index: 1/N of the
// scan). `full` is the bundle's index of that kind.
inline absl::StatusOr<std::vector<ScoredIndex>> SearchReturnable(CatalogueShard::Index which,
                                                                 const VectorIndex& full,
                                                                 const float* query, int k,
                                                                 const UserState& state) {
  if (state.shard == nullptr) return SearchExcluding(full, query, k, state);
  auto neighbors = state.shard->SearchOwned(which, full, query, k, state.exclude_sorted);
  if (!neighbors.ok()) return neighbors.status();
  return ToScored(*neighbors, state);
}

// True when every component is 0 (an empty profile or fold-in: nothing to search with).
inline bool IsZeroVector(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
}

}  // namespace recsys::retrieval
