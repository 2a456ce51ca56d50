// SLIST source: the sequence-aware item-item model's dense scores for the
// user's recent items (position- and time-weighted as of the request), over
// the items the model covers (the trainer's --slist_max_items most popular on
// larger catalogues).
// Cost: O(items log k) over the dense score vector built in BuildUserState.
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class SlistRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kSlist; }
  bool Available(const ModelBundle& bundle) const override { return bundle.slist.has_value(); }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
