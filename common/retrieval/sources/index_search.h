// Shared by the vector sources (content, ALS, sequence): a FAISS search that
// never returns an excluded item, as a candidate list.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/index/vector_index.h"
#include "common/retrieval/user_state.h"
#include "common/topk.h"

namespace recsys::retrieval {

// The `k` nearest items to `query` (index.dim() floats) in `index`, best first,
// none of them in state.exclude. Cost: one search over the index.
inline absl::StatusOr<std::vector<ScoredIndex>> SearchExcluding(const VectorIndex& index,
                                                                const float* query, int k,
                                                                const UserState& state) {
  auto neighbors = index.Search(query, k, state.exclude_sorted);
  if (!neighbors.ok()) return neighbors.status();
  std::vector<ScoredIndex> out;
  out.reserve(neighbors->size());
  for (const Neighbor& n : *neighbors) {
    out.push_back(ScoredIndex{static_cast<ItemIndex>(n.id), n.score});
  }
  return out;
}

// True when every component is 0 (an empty profile or fold-in: nothing to search with).
inline bool IsZeroVector(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
}

}  // namespace recsys::retrieval
