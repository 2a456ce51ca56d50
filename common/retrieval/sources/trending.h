// Trending source: time-decayed popularity as of the request time, minus
// excluded items. The only source that answers without history (cold start).
// Cost "now": O(k + excluded items met) along the bundle's precomputed order;
// as of a past time: O(candidates + events since the checkpoint), see
// TrendingAsOf::Top.
//
// Cold start with category hints (UserState::category_hints): the items of the
// hinted categories first, then the rest of trending (HintedTrendingTop,
// category_hints.h). The hinted items keep their trending scores; the rest
// are scored -1 / (1 + trending score), in [-1, 0): below every hinted item
// and in the same order, so the list stays ordered by its scores as every
// source's list is (the gateway's merge of sharded answers relies on it).
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class TrendingRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kTrending; }
  bool AnswersColdStart() const override { return true; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
