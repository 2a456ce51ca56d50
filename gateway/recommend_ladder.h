// The Recommend fallback ladder: one call's way through the two backend stages,
// degrading instead of failing:
//   full (retrieval + ranking)                               PATH_FULL
//   → retrieval order   ranking late, down, failing, or not  PATH_RETRIEVAL_ONLY
//                       worth starting in what retrieval left
//   → gateway trending  retrieval late, down, failing or     PATH_TRENDING_FALLBACK
//                       empty
// and a user with no history (stored + extra) is answered from trending at
// once (PATH_COLD_START, not degraded); a user the store holds nothing for
// gets kUnknownUserNote as well. A stored history the store could read only
// in part (UserStore::ReadHistory degraded: an external store unreachable)
// is used as it is, and the answer is degraded with a note
// "user store unavailable: ..." (reason kUserStoreUnavailableReason).
// A degraded answer says why in its
// notes and counts recsys_gateway_degraded_total{reason="<stage>:<code>"}
// (code: the gRPC code name, or EMPTY / BUDGET). Complete answers go through
// the exact answer cache (see response_cache.h).
//
// Threading: Run may be called concurrently. It never blocks: the downstream
// calls are asynchronous and the call finishes on a gRPC completion thread
// (or on the caller's thread when no downstream call is needed). A store
// whose reads block (UserStore::reads_block) is read on the ladder's own
// worker pool, which then starts the call.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/server/worker_pool.h"
#include "gateway/budget.h"
#include "gateway/gateway_metrics.h"
#include "gateway/response_cache.h"
#include "gateway/retrieval_shards.h"
#include "gateway/user_store.h"
#include "grpcpp/channel.h"
#include "grpcpp/server_context.h"
#include "recsys/v1/ranking.grpc.pb.h"
#include "recsys/v1/recommender.pb.h"
#include "recsys/v1/retrieval.grpc.pb.h"

namespace recsys::gateway {

// The note an answer carries when the store holds no history for the user
// (never seen, or erased) and the request did not set ignore_stored_history.
// The answer itself is what any user without that history gets.
inline constexpr char kUnknownUserNote[] =
    "unknown user: the store holds no history for this user_id";

struct RecommendLadderOptions {
  // min_ranking_time decides whether ranking is still worth starting.
  BudgetOptions budget;
  // Most recent history events (stored, then extra) sent downstream.
  int max_history = 5000;
  // For a store whose reads block: threads reading it (more than the store's
  // connections only wait), and reads waiting for one; a Recommend that finds
  // the queue full is answered without stored history, degraded
  // (kUserStoreBusyReason). Size the queue to the gateway's max_inflight.
  int store_read_workers = 8;
  int store_read_queue = 64;
  // Retrieval sharded by catalogue (null: the one retrieval channel): Retrieve
  // fans out to every shard and the answers are merged (retrieval_shards.h).
  // A shard left out makes the answer degraded ("retrieval_shard:<CODE>").
  std::shared_ptr<const ShardedRetrieval> shards;
  // The ladder's notion of now: stage timings, the ranking-worth-starting check
  // and cache expiry. Empty = absl::Now. Downstream deadlines are real time.
  std::function<absl::Time()> clock;
};

// What the backends last reported: the version each serves ("" until it
// answered a call) and when each was last reached (InfinitePast = never).
struct BackendVersions {
  std::string retrieval;
  std::string ranking;
  absl::Time retrieval_contact = absl::InfinitePast();
  absl::Time ranking_contact = absl::InfinitePast();
};

// The latest BackendVersions, updated by every answered call. Thread-safe.
class LatestBackendVersions {
 public:
  // A call answered at `at`: each non-empty version is that stage's latest,
  // reached at `at`. Empty arguments leave that stage as it was.
  void Record(const std::string& retrieval, const std::string& ranking, absl::Time at);
  // A stage was reached at `at` without a version (e.g. a health check);
  // never moves the contact time backwards.
  void RecordRetrievalContact(absl::Time at);
  void RecordRankingContact(absl::Time at);
  BackendVersions Get() const;

 private:
  mutable absl::Mutex mu_;
  BackendVersions versions_ ABSL_GUARDED_BY(mu_);
};

class RecommendLadder {
 public:
  // `store`, `cache` and `metrics` are not owned and must outlive the ladder;
  // `cache` may be null (no caching). The channels lead to recsys.v1.Retrieval
  // and recsys.v1.Ranking.
  RecommendLadder(RecommendLadderOptions options, std::shared_ptr<grpc::ChannelInterface> retrieval,
                  std::shared_ptr<grpc::ChannelInterface> ranking, const UserStore* store,
                  ResponseCache* cache, GatewayMetrics* metrics);

  // Answers the validated `request` into `response` from `bundle` (the
  // gateway's snapshot, kept to the end of the call), the user's stored history
  // (unless ignore_stored_history) and the backends, within `deadlines`.
  // Always produces an answer: path, degraded, model_version, items, notes
  // (and timings when request.debug). `done` runs exactly once, when the
  // response is complete; `request` and `response` must stay valid until then
  // and are not touched afterwards. `done` itself (with what it captures) is
  // destroyed with the call, after the call released its downstream contexts.
  // `parent` (may be null) is the caller's server context: its cancellation
  // and deadline propagate downstream.
  void Run(const v1::RecommendRequest* request, v1::RecommendResponse* response,
           std::shared_ptr<const ModelBundle> bundle, const StageDeadlines& deadlines,
           grpc::CallbackServerContext* parent, absl::AnyInvocable<void()> done);

  BackendVersions backend_versions() const { return versions_.Get(); }
  // For contacts made outside Recommend (health checks).
  LatestBackendVersions& versions() { return versions_; }

 private:
  const RecommendLadderOptions options_;
  const std::unique_ptr<v1::Retrieval::Stub> retrieval_;
  const std::unique_ptr<v1::Ranking::Stub> ranking_;
  const UserStore* const store_;
  ResponseCache* const cache_;
  GatewayMetrics* const metrics_;
  LatestBackendVersions versions_;
  // Reads of a blocking store (null for one that does not block). Declared
  // last: drained first, while everything its tasks use is alive.
  std::unique_ptr<WorkerPool> store_reads_;
};

}  // namespace recsys::gateway
