#include "common/retrieval/sources/trending.h"

#include <algorithm>

#include "common/retrieval/category_hints.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> TrendingRetriever::Retrieve(const ModelBundle& bundle,
                                                                     const UserState& state,
                                                                     int k) const {
  if (k <= 0) return std::vector<ScoredIndex>{};
  auto skip = [&](ItemIndex i) { return state.Skips(i); };
  if (!state.history.empty() || state.category_hints.empty()) return state.trending.Top(k, skip);
  HintedTrending list =
      HintedTrendingTop(bundle.catalogue, state.trending, state.category_hints, k, skip);
  const auto rest = list.items.begin() + list.hinted;
  for (auto it = rest; it != list.items.end(); ++it) it->score = -1.0f / (1.0f + it->score);
  // Two trending scores may round to one transformed score: re-sort so such
  // ties go by item index, as everything that orders these scores does.
  std::stable_sort(rest, list.items.end(), RanksBefore);
  return std::move(list.items);
}

}  // namespace recsys::retrieval
