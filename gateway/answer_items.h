// The items of a Recommend answer, built from the gateway's own bundle
// snapshot (catalogue + trending): the trending list (cold start and the
// retrieval fallback), the retrieval order (the ranking fallback) and the
// ranked list (the full path), each item with its title and categories.
//
// Threading: free functions over an immutable bundle; safe to call
// concurrently. Cost: FillTrending is HintedTrendingTop's (O(k + excluded
// items met) "now" without hints; see common/retrieval/category_hints.h); the
// others are O(k) hash lookups.
#pragma once

#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "common/bundle/model_bundle.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "recsys/v1/recommender.pb.h"
#include "recsys/v1/retrieval.pb.h"

namespace recsys::gateway {

// Sets `out`'s id, score, title and categories from the catalogue.
void FillItem(const ModelBundle& bundle, ItemIndex item, float score, v1::ScoredItem* out);

// Appends the top `k` of trending as of `as_of_s` (0 = the bundle's latest
// time) minus `exclude`. With `categories`, items in any of them come first
// (in trending order), then the rest of trending fills up to k: the rule of
// retrieval's cold-start trending source (HintedTrendingTop, category names
// matched ignoring ASCII case, unknown ones ignored), with trending scores.
void FillTrending(const ModelBundle& bundle, int64_t as_of_s,
                  const absl::flat_hash_set<ItemIndex>& exclude,
                  const google::protobuf::RepeatedPtrField<std::string>& categories, int k,
                  v1::RecommendResponse* response);

// Appends the first `k` pooled candidates in retrieval order (best pooled rank
// first), scored 1/(position+1). Ids the catalogue does not know are passed
// through with no title.
void FillRetrievalOrder(const ModelBundle& bundle,
                        const google::protobuf::RepeatedPtrField<v1::Candidate>& candidates, int k,
                        v1::RecommendResponse* response);

// Appends the ranked items with the ranker's scores, details from the
// catalogue; unknown ids are moved over as they came (`ranked` is consumed).
void FillRanked(const ModelBundle& bundle, google::protobuf::RepeatedPtrField<v1::ScoredItem>* ranked,
                v1::RecommendResponse* response);

}  // namespace recsys::gateway
