#include "common/retrieval/sources/itemknn.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> ItemKnnRetriever::Retrieve(const ModelBundle& bundle,
                                                                    const UserState& state,
                                                                    int k) const {
  std::vector<ScoredIndex> list;
  if (k <= 0) return list;
  const std::span<const ItemIndex> items = state.itemknn.items();
  const std::span<const float> scores = state.itemknn.scores();
  list.reserve(items.size());
  for (size_t v = 0; v < items.size(); ++v) {
    if (!state.Skips(items[v])) list.push_back(ScoredIndex{items[v], scores[v]});
  }
  SortAndTruncate(&list, k);
  return list;
}

}  // namespace recsys::retrieval
