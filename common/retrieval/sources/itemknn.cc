#include "common/retrieval/sources/itemknn.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> ItemKnnRetriever::Retrieve(const ModelBundle& bundle,
                                                                    const UserState& state,
                                                                    int k) const {
  std::vector<ScoredIndex> list;
  if (k <= 0) return list;
  list.reserve(state.itemknn_voted.size());
  for (ItemIndex item : state.itemknn_voted) {
    if (!state.exclude.contains(item))
      list.push_back(ScoredIndex{item, state.itemknn_scores[item]});
  }
  SortAndTruncate(&list, k);
  return list;
}

}  // namespace recsys::retrieval
