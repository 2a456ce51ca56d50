#include "common/retrieval/sources/slist.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> SlistRetriever::Retrieve(const ModelBundle& bundle,
                                                                  const UserState& state,
                                                                  int k) const {
  // slist_scores is empty without SLIST or when the state was built without
  // dense scores (the ranker's sparse form).
  if (k <= 0 || state.slist_scores.empty() || state.history.empty()) {
    return std::vector<ScoredIndex>{};
  }
  const EaseModel& b = bundle.slist->weights();
  std::vector<ScoredIndex> list = TopKDense(
      state.slist_scores, k, [&](ItemIndex l) { return state.Skips(b.global_item(l)); });
  for (ScoredIndex& s : list) s.item = b.global_item(s.item);
  return list;
}

}  // namespace recsys::retrieval
