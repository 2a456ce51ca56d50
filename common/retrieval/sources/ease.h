// EASE source: the closed-form item-item regression's dense scores for the
// history, over the items the model covers (the trainer's --ease_max_items most
// popular on larger catalogues).
// Cost: O(items log k) over the dense score vector built in BuildUserState.
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class EaseRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kEase; }
  bool Available(const ModelBundle& bundle) const override { return bundle.ease.has_value(); }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
