// Content source: the time-decayed content profile of the history (LSA item
// embeddings) -> nearest items in the content FAISS index.
// Cost: one search over the content index (O(items * dim) exact).
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class ContentRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kContent; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
