// Item-kNN source (collaborative filtering): the history's votes through the
// precomputed item-item cosine neighbour lists, best summed vote first.
// Cost: O(voted items * log k); the votes are computed once in BuildUserState.
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class ItemKnnRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kItemKnn; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
