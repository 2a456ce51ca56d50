#include "common/retrieval/sources/als.h"

#include "common/retrieval/sources/index_search.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> AlsRetriever::Retrieve(const ModelBundle& bundle,
                                                                const UserState& state,
                                                                int k) const {
  if (k <= 0 || state.history.empty() || IsZeroVector(state.als_vector)) {
    return std::vector<ScoredIndex>{};
  }
  return SearchReturnable(CatalogueShard::Index::kAls, bundle.als_index, state.als_vector.data(),
                          k, state);
}

}  // namespace recsys::retrieval
