// Sequence source: first-order Markov transitions from the last
// params.sequence_window items (decayed by position), blended with content
// similarity to the last item: beta * markov + (1 - beta) * cos(last, item).
// Cost: O(transitions) plus, when beta < 1, one search over the content index.
#pragma once

#include "common/retrieval/retriever.h"

namespace recsys::retrieval {

class SequenceRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kSequence; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

}  // namespace recsys::retrieval
