// The edge between recsys.v1.Retrieval messages and the library: validation
// (every limit with a message naming the field), external -> internal ids, and
// the response built from a PoolResult.
//
// Threading: free functions over immutable inputs; safe to call concurrently.
#pragma once

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "common/bundle/model_bundle.h"
#include "recsys/v1/retrieval.pb.h"
#include "retrieval_service/candidate_pool.h"

namespace recsys::retrieval {

struct RequestLimits {
  // Largest k of Search / SimilarItems and of a per-source quota.
  int max_k = 1000;
  // Most history events one Retrieve may carry (the gateway's default sends up to 5000).
  int max_history = 5000;
  // Most exclude_item_ids one Retrieve may carry.
  int max_exclusions = 10000;
  // Longest Search query, bytes.
  int max_query_bytes = 4096;
  // Longest external item id, bytes (HistoryEvent contract).
  int max_id_bytes = 256;
  // Largest request of any method, bytes (a 5,000-event history plus 10,000
  // exclusions of 16-byte ids take ~0.36 MB). Retrieve's counts and sizes are
  // checked on its wire bytes before it is parsed (common/server/wire_limits.h);
  // Search and SimilarItems are parsed by gRPC (unknown fields kept: ~10x).
  int64_t max_request_bytes = 512 << 10;
};

// InvalidArgument with a message naming the offending field, else OK. Checks:
// history length, each event's item id (non-empty, <= max_id_bytes), weight
// (finite, >= 0) and timestamp (>= 0); as_of_s >= 0; quotas (known source, each
// at most once, k in 0..max_k where 0 disables the source); exclusions (count,
// non-empty ids); max_candidates >= 0.
absl::Status ValidateRetrieveRequest(const v1::RetrieveRequest& request,
                                     const RequestLimits& limits);
// Query 1..max_query_bytes bytes, not only ASCII white space; k in 1..max_k.
absl::Status ValidateSearchRequest(const v1::SearchRequest& request, const RequestLimits& limits);
// Non-empty item id of at most max_id_bytes; k in 1..max_k.
absl::Status ValidateSimilarItemsRequest(const v1::SimilarItemsRequest& request,
                                         const RequestLimits& limits);

// RetrieveRequest.shard_lists: the quotas and pool bound the merger applies
// (the pool itself is then not bounded).
struct ShardListing {
  bool enabled = false;
  std::array<int, kNumSources> quotas{};
  int max_pool = 0;
};

struct ConvertedRetrieve {
  PoolRequest pool;
  ShardListing listing;
  // History events whose item id the bundle does not know (dropped).
  int unknown_history_items = 0;
  // Category hints no catalogue category has (ignored).
  int unknown_categories = 0;
  // UserFingerprint(request.user()) when signals were asked for, else 0.
  uint64_t user_fingerprint = 0;
};

// A validated request in bundle item indices. Unknown history ids are dropped and
// counted; unknown exclusions are dropped (nothing to exclude); category hints
// are resolved (ResolveCategoryHints: ASCII case ignored), unknown ones counted. A history event
// without a timestamp (0) is placed at the request time. Quotas: the bundle's
// params.quotas, overridden by each source the request lists (k 0 disables it).
// max_pool: request.max_candidates, or the bundle's params.max_pool when 0;
// with shard_lists it moves to `listing` and the pool is not bounded.
// `pool.deadline` is left at InfiniteFuture for the caller to set.
ConvertedRetrieve ConvertRetrieveRequest(std::shared_ptr<const ModelBundle> bundle,
                                         const v1::RetrieveRequest& request);

// Fills candidates (external ids, one SourceScore per source that retrieved the
// item, proto Source = SourceId + 1), skipped sources, model_version,
// unknown_history_items and timings ("user_state", then each source that ran).
// When the result carries signals: Candidate.signals and the RankSignals
// context (schema, model version, `user_fingerprint`). The bundle's shard, if
// any. With `listing.enabled`: each candidate's catalogue_index, the quotas
// and the pool bound.
void FillRetrieveResponse(const ModelBundle& bundle, const PoolResult& result,
                          int unknown_history_items, uint64_t user_fingerprint,
                          const ShardListing& listing, v1::RetrieveResponse* response);

}  // namespace recsys::retrieval
