// The retrieval library: one Retriever per candidate source, the per-request
// UserState they share (user_state.h), and the one pooling rule (pool.h). The
// trainer and the evaluator run it sequentially; the retrieval service runs the
// same retrievers in parallel with deadlines (retrieval_service/candidate_pool.h).
//
//   const RetrieverSet& all = DefaultRetrievers();
//   UserState state = BuildUserState(bundle, history, as_of_s, exclude);
//   ASSIGN_OR_RETURN(auto list, all[int(SourceId::kAls)]->Retrieve(bundle, state, 100));
//
// One file per source in sources/: content, itemknn, als, ease, trending,
// sequence. Adding a source means one new file there, one SourceId, and one
// line in DefaultRetrievers().
//
// Threading: retrievers are stateless; every method is const and safe to call
// concurrently.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/model_bundle.h"
#include "common/retrieval/user_state.h"
#include "common/topk.h"

namespace recsys::retrieval {

class Retriever {
 public:
  virtual ~Retriever() = default;

  // The source this retriever produces (indexes per-source arrays).
  virtual SourceId source() const = 0;
  // "content", "itemknn", ... (SourceName of source()).
  const char* name() const { return SourceName(source()); }
  // False when `bundle` lacks the model (e.g. no EASE for large catalogues); the
  // pool then does not run the source and does not report it as skipped.
  virtual bool Available(const ModelBundle& bundle) const { return true; }
  // False when the source answers from the history alone and so has nothing
  // for a user without known history (cold start): the pool does not run it.
  virtual bool AnswersColdStart() const { return false; }
  // The best `k` candidates for `state`, best first, never an excluded item. An
  // empty list is a valid answer (e.g. no history for a history-based source).
  // Errors are reported, not thrown (FAISS exceptions are caught in VectorIndex).
  virtual absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                            const UserState& state,
                                                            int k) const = 0;
};

// One retriever per source, indexed by SourceId (a null entry disables it).
using RetrieverSet = std::array<std::unique_ptr<const Retriever>, kNumSources>;

// A fresh set of the six production retrievers.
RetrieverSet MakeDefaultRetrievers();
// The same set, built once and shared (retrievers hold no state).
const RetrieverSet& DefaultRetrievers();

}  // namespace recsys::retrieval
