// The one pooling rule, used by the trainer (the ranker's training pools and the
// pool/two-stage leaderboard rows), the evaluator, benchmarks, and the retrieval
// service (retrieval_service/candidate_pool.h runs the same steps in parallel):
//
//   1. PlanSources: which sources run and how many candidates each is asked
//      for. A source runs when it has a positive count, its model is in the
//      bundle (Retriever::Available), and the user has known history or the
//      source answers cold start (Retriever::AnswersColdStart: trending).
//   2. Each planned source's Retriever::Retrieve (RetrieveSources, in order).
//   3. PoolCandidates: each list cut to its quota, merged and deduplicated.
//
// RetrievePool does all three in one call.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/retrieval/retriever.h"

namespace recsys {

// A candidate of the merged pool with what every source said of it.
struct PooledCandidate {
  ItemIndex item;
  std::array<float, kNumSources> score;   // 0 when absent
  std::array<int32_t, kNumSources> rank;  // -1 when absent
};

}  // namespace recsys

namespace recsys::retrieval {

// Candidate counts per source, indexed by SourceId.
using SourceCounts = std::array<int, kNumSources>;
// One candidate list per source, indexed by SourceId (empty when it did not run).
using SourceLists = std::array<std::vector<ScoredIndex>, kNumSources>;

struct SourcePlan {
  // No known history: only sources that answer cold start run.
  bool cold_start = false;
  // Candidates each source is asked for; 0 = the source does not run.
  SourceCounts fetch{};
  bool runs(int source) const { return fetch[source] > 0; }
  bool any() const;
};

// The enabled-source rule and the cold-start rule (see the file comment).
// `wanted[s]` is how many candidates source s should produce (<= 0 disables it).
SourcePlan PlanSources(const RetrieverSet& retrievers, const ModelBundle& bundle,
                       const SourceCounts& wanted, bool has_known_history);

// Runs every planned source one after another. A source that fails leaves its
// list empty and is reported in `failed` (may be null).
SourceLists RetrieveSources(const RetrieverSet& retrievers, const ModelBundle& bundle,
                            const UserState& state, const SourcePlan& plan,
                            std::vector<std::pair<SourceId, absl::Status>>* failed);

// Each source's list cut to its first quotas[s] entries (<= 0: none), then
// merged into one deduplicated pool ordered by best rank in any source, then by
// number of sources, then item index; cut to max_pool (<= 0: no bound).
std::vector<PooledCandidate> PoolCandidates(const SourceLists& lists, const SourceCounts& quotas,
                                            int max_pool);

// PlanSources(quotas, history known) + RetrieveSources + PoolCandidates.
std::vector<PooledCandidate> RetrievePool(const RetrieverSet& retrievers, const ModelBundle& bundle,
                                          const UserState& state, const SourceCounts& quotas,
                                          int max_pool,
                                          std::vector<std::pair<SourceId, absl::Status>>* failed);

}  // namespace recsys::retrieval
