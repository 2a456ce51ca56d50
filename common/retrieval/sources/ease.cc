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
  // Positions in the model's item order (catalogue order, so ties break alike).
  const EaseModel& ease = *bundle.ease;
  std::vector<ScoredIndex> list = TopKDense(
      state.ease_scores, k, [&](ItemIndex l) { return state.Skips(ease.global_item(l)); });
  for (ScoredIndex& s : list) s.item = ease.global_item(s.item);
  return list;
}

}  // namespace recsys::retrieval
