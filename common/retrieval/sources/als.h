// ALS source (collaborative filtering): the fold-in of the current history into
// the implicit-ALS factor space -> inner-product search over item factors.
// Cost: one search over the ALS index (O(items * factors) exact).
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class AlsRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kAls; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
