// Trending source: time-decayed popularity as of the request time, minus
// excluded items. The only source that answers without history (cold start).
// Cost "now": O(k + excluded items met) along the bundle's precomputed order;
// as of a past time: O(candidates + events since the checkpoint), see
// TrendingAsOf::Top.
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
