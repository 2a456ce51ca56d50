#include "retrieval_service/retrievers.h"

#include "absl/strings/str_cat.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> ContentRetriever::Retrieve(const ModelBundle& bundle,
                                                                    const UserState& state,
                                                                    int k) const {
  return SourceCandidates(bundle, state, SourceId::kContent, k);
}

absl::StatusOr<std::vector<ScoredIndex>> CfRetriever::Retrieve(const ModelBundle& bundle,
                                                               const UserState& state,
                                                               int k) const {
  if (model_ != SourceId::kItemKnn && model_ != SourceId::kAls) {
    return absl::InvalidArgumentError(
        absl::StrCat("CfRetriever serves itemknn or als, not ", SourceName(model_)));
  }
  return SourceCandidates(bundle, state, model_, k);
}

absl::StatusOr<std::vector<ScoredIndex>> TrendingRetriever::Retrieve(const ModelBundle& bundle,
                                                                     const UserState& state,
                                                                     int k) const {
  return SourceCandidates(bundle, state, SourceId::kTrending, k);
}

absl::StatusOr<std::vector<ScoredIndex>> SequenceRetriever::Retrieve(const ModelBundle& bundle,
                                                                     const UserState& state,
                                                                     int k) const {
  return SourceCandidates(bundle, state, SourceId::kSequence, k);
}

absl::StatusOr<std::vector<ScoredIndex>> EaseRetriever::Retrieve(const ModelBundle& bundle,
                                                                 const UserState& state,
                                                                 int k) const {
  if (!bundle.ease) return std::vector<ScoredIndex>{};
  return SourceCandidates(bundle, state, SourceId::kEase, k);
}

RetrieverSet MakeDefaultRetrievers() {
  RetrieverSet set;
  set[static_cast<int>(SourceId::kContent)] = std::make_unique<ContentRetriever>();
  set[static_cast<int>(SourceId::kItemKnn)] = std::make_unique<CfRetriever>(SourceId::kItemKnn);
  set[static_cast<int>(SourceId::kAls)] = std::make_unique<CfRetriever>(SourceId::kAls);
  set[static_cast<int>(SourceId::kTrending)] = std::make_unique<TrendingRetriever>();
  set[static_cast<int>(SourceId::kSequence)] = std::make_unique<SequenceRetriever>();
  set[static_cast<int>(SourceId::kEase)] = std::make_unique<EaseRetriever>();
  return set;
}

}  // namespace recsys::retrieval
