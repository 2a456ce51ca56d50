// The answer-cache key of a Recommend call (see response_cache.h for what the
// cache may hold): the user id verbatim plus a stable 64-bit fingerprint of
// everything else the answer depends on — the user context sent downstream
// (merged, truncated history and as-of time, via UserFingerprint), the
// gateway's model version, k, the exclusions and the category hints (each
// list in request order).
//
// Threading: a pure function; safe to call concurrently. Cost: O(history +
// exclusions + categories).
#pragma once

#include "absl/strings/string_view.h"
#include "gateway/response_cache.h"
#include "recsys/v1/common.pb.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {

// `user` is the context the call sends downstream for `request`.
ResponseCacheKey RecommendCacheKey(const v1::RecommendRequest& request,
                                   const v1::UserContext& user, absl::string_view model_version);

}  // namespace recsys::gateway
