#include "common/retrieval/sources/content.h"

#include "common/retrieval/sources/index_search.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> ContentRetriever::Retrieve(const ModelBundle& bundle,
                                                                    const UserState& state,
                                                                    int k) const {
  if (k <= 0 || state.history.empty() || IsZeroVector(state.profile)) {
    return std::vector<ScoredIndex>{};
  }
  return SearchReturnable(CatalogueShard::Index::kContent, bundle.content_index,
                          state.profile.data(), k, state);
}

}  // namespace recsys::retrieval
