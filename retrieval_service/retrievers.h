// Retrievers: one per candidate source, each a thin wrapper over the shared
// SourceCandidates (common/candidates/user_state.h), so a served source returns
// exactly what the offline evaluator measured for it.
//
//   std::array<std::unique_ptr<Retriever>, kNumSources> all = MakeDefaultRetrievers();
//   UserState state = BuildUserState(bundle, history, as_of_s, exclude);
//   ASSIGN_OR_RETURN(auto list, all[int(SourceId::kAls)]->Retrieve(bundle, state, 100));
//
// Threading: retrievers are stateless; every method is const and safe to call
// concurrently. Cost per call: content / ALS / sequence: one FAISS search over the
// catalogue (O(items * dim) for the exact index); item-kNN / sequence: O(votes log k);
// trending / EASE: O(items log k) over a dense score vector.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/model_bundle.h"
#include "common/candidates/user_state.h"
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
  // The best `k` candidates for `state`, best first, never an excluded item. An
  // empty list is a valid answer (e.g. no history for a history-based source).
  virtual absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                            const UserState& state,
                                                            int k) const = 0;
};

// Decayed content profile of the history -> FAISS kNN over item embeddings.
class ContentRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kContent; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

// Collaborative filtering, one instance per CF model: SourceId::kItemKnn
// (neighbour votes of the history) or SourceId::kAls (fold-in of the current
// history -> FAISS inner-product search).
class CfRetriever final : public Retriever {
 public:
  // `model` must be kItemKnn or kAls (checked: anything else answers
  // InvalidArgument from Retrieve).
  explicit CfRetriever(SourceId model) : model_(model) {}
  SourceId source() const override { return model_; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;

 private:
  const SourceId model_;
};

// Time-decayed popularity as of the request time, minus excluded items. The
// only source that answers for an empty history (cold start).
class TrendingRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kTrending; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

// Markov transitions from the last items blended with content similarity to the
// last item.
class SequenceRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kSequence; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

// EASE item-item regression; only bundles of small catalogues carry it.
class EaseRetriever final : public Retriever {
 public:
  SourceId source() const override { return SourceId::kEase; }
  bool Available(const ModelBundle& bundle) const override { return bundle.ease.has_value(); }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle& bundle,
                                                    const UserState& state, int k) const override;
};

// One retriever per source, indexed by SourceId.
using RetrieverSet = std::array<std::unique_ptr<const Retriever>, kNumSources>;
RetrieverSet MakeDefaultRetrievers();

}  // namespace recsys::retrieval
