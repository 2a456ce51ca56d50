#include "common/retrieval/sources/trending.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> TrendingRetriever::Retrieve(const ModelBundle& bundle,
                                                                     const UserState& state,
                                                                     int k) const {
  if (k <= 0) return std::vector<ScoredIndex>{};
  return state.trending.Top(k, [&](ItemIndex i) { return state.Skips(i); });
}

}  // namespace recsys::retrieval
