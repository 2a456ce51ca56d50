// The public API (recsys.v1.Recommender): spends each Recommend's latency
// budget across retrieval and ranking and always answers a well-formed request,
// degrading along the ladder
//   full (retrieval + ranking)
//   → retrieval order        (ranking late, down or failing)
//   → gateway trending        (retrieval late, down or failing)
// and serving cold-start users (no history) from trending directly.
// Feedback is acknowledged only once the user store made it durable.
//
// Threading: handlers run on gRPC callback threads and never block; downstream
// calls use the async stub API and finish the reactor from their completion;
// durable Feedback appends run on a bounded worker pool.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/server/arena_allocator.h"
#include "common/server/bundle_holder.h"
#include "common/server/metrics.h"
#include "gateway/budget.h"
#include "gateway/response_cache.h"
#include "gateway/user_store.h"
#include "common/server/worker_pool.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "recsys/v1/ranking.grpc.pb.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "recsys/v1/retrieval.grpc.pb.h"

namespace recsys::gateway {

struct GatewayOptions {
  BudgetOptions budget;
  int max_inflight = 512;        // concurrent Recommend calls; more → RESOURCE_EXHAUSTED
  int max_k = 100;
  int max_history = 1000;        // most recent stored events sent downstream
  int max_exclusions = 10000;
  int feedback_workers = 32;     // threads waiting on durable appends (group commit batches them)
  int feedback_queue = 4096;     // queued Feedback calls; more → RESOURCE_EXHAUSTED
  ResponseCacheOptions cache;    // exact answer cache (max_bytes 0 disables)
};

// A channel to a backend: round_robin over every address a dns:/// target
// resolves to (Kubernetes headless services), keepalive, and retries only for
// UNAVAILABLE (all backend methods are idempotent reads).
std::shared_ptr<grpc::Channel> MakeBackendChannel(const std::string& target);

class GatewayService final : public v1::Recommender::CallbackService {
 public:
  // None of the pointers is owned; all must outlive the service. `bundles`
  // holds bundles loaded with BundleParts::kGateway (catalogue + trending).
  GatewayService(GatewayOptions options, BundleHolder* bundles, UserStore* store,
                 std::shared_ptr<grpc::Channel> retrieval, std::shared_ptr<grpc::Channel> ranking,
                 ServerMetrics* metrics);
  ~GatewayService() override;

  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx,
                                      const v1::RecommendRequest* request,
                                      v1::RecommendResponse* response) override;
  grpc::ServerUnaryReactor* Feedback(grpc::CallbackServerContext* ctx,
                                     const v1::FeedbackRequest* request,
                                     v1::FeedbackResponse* response) override;
  grpc::ServerUnaryReactor* SimilarItems(grpc::CallbackServerContext* ctx,
                                         const v1::SimilarItemsRequest* request,
                                         v1::SimilarItemsResponse* response) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* ctx,
                                   const v1::SearchRequest* request,
                                   v1::SearchResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* ctx,
                                         const v1::GetModelInfoRequest* request,
                                         v1::GetModelInfoResponse* response) override;
  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* ctx,
                                       const v1::GetHistoryRequest* request,
                                       v1::GetHistoryResponse* response) override;

  int inflight() const { return inflight_.load(); }

 private:
  friend class RecommendCall;

  // Trending (as of `as_of_s`, 0 = now) minus `exclude`, boosted to the front
  // for items in `categories` when given.
  void FillTrending(const ModelBundle& bundle, int64_t as_of_s,
                    const absl::flat_hash_set<ItemIndex>& exclude,
                    const google::protobuf::RepeatedPtrField<std::string>& categories, int k,
                    v1::RecommendResponse* response) const;
  void FillItem(const ModelBundle& bundle, ItemIndex item, float score, v1::ScoredItem* out) const;
  void CountAnswer(v1::Path path, bool degraded, const std::string& reason);
  void ObserveStage(const char* stage, absl::Duration d);
  void RecordVersions(const std::string& retrieval, const std::string& ranking);
  void UpdateStoreMetrics();

  const GatewayOptions options_;
  BundleHolder* const bundles_;
  UserStore* const store_;
  std::unique_ptr<v1::Retrieval::Stub> retrieval_;
  std::unique_ptr<v1::Ranking::Stub> ranking_;
  ServerMetrics* const metrics_;
  ResponseCache cache_;
  prometheus::Counter* cache_hits_ = nullptr;
  prometheus::Counter* cache_misses_ = nullptr;
  // Each Recommend call's request and response on one arena.
  ArenaMessageAllocator<v1::RecommendRequest, v1::RecommendResponse> recommend_allocator_;
  std::atomic<int> inflight_{0};
  WorkerPool feedback_pool_;

  absl::Mutex versions_mu_;
  std::string retrieval_version_ ABSL_GUARDED_BY(versions_mu_);
  std::string ranking_version_ ABSL_GUARDED_BY(versions_mu_);

  prometheus::Family<prometheus::Counter>* answers_ = nullptr;
  prometheus::Family<prometheus::Counter>* degraded_ = nullptr;
  prometheus::Family<prometheus::Histogram>* stage_seconds_ = nullptr;
  prometheus::Counter* rejected_ = nullptr;
  prometheus::Gauge* inflight_gauge_ = nullptr;
  prometheus::Gauge* wal_appends_ = nullptr;
  prometheus::Gauge* wal_fsyncs_ = nullptr;
  prometheus::Gauge* wal_last_fsync_seconds_ = nullptr;
  prometheus::Histogram* feedback_durable_seconds_ = nullptr;
};

}  // namespace recsys::gateway
