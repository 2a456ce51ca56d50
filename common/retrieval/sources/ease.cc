#include "common/retrieval/sources/ease.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> EaseRetriever::Retrieve(const ModelBundle& bundle,
                                                                 const UserState& state,
                                                                 int k) const {
  // ease_scores is empty when the bundle has no EASE or the state was built
  // without dense EASE scores (the ranker's sparse form).
  if (k <= 0 || state.ease_scores.empty() || state.history.empty()) {
    return std::vector<ScoredIndex>{};
  }
  return TopKDense(state.ease_scores, k, [&](ItemIndex i) { return state.exclude.contains(i); });
}

}  // namespace recsys::retrieval
