// The public API (recsys.v1.Recommender) as thin handlers: validate the request
// (requests.h), take the bundle snapshot once, hand the work to its unit,
// convert the status at the edge (ToGrpcStatus) and record the RPC.
//   Recommend     admission control (max_inflight, else RESOURCE_EXHAUSTED), the
//                 call's budget (budget.h), then the fallback ladder
//                 (recommend_ladder.h), which always answers a valid request.
//   Feedback      acknowledged only once the user store made it durable; a
//                 retry with the same idempotency_key stores nothing again.
//   Search,       passed through to retrieval with their own deadline
//   SimilarItems  (PlanLookupDeadline); retrieval validates them.
//   GetModelInfo  the bundle's manifest and each backend's live state
//                 (backend_status.h: a health check per call, short deadline).
//   GetHistory    each event with its catalogue title; UNAVAILABLE when the
//                 store can read only part of the history (Redis down).
//   DeleteUser    admin erasure; acknowledged only once durable (like Feedback,
//                 on the same worker pool).
//   Ask           retrieval's Search with the question (the same deadline as
//                 Search), re-scored against the catalogue into an extractive
//                 answer (ask.h); with a generator configured, then a blocking
//                 HTTP call (ask_generator.h) on its own bounded worker pool
//                 (queue full → RESOURCE_EXHAUSTED), falling back to the
//                 extractive answer with a note on any generator failure.
// Every call but Search and SimilarItems is UNAVAILABLE until the first bundle
// is served (the store is seeded from it first, see GatewayServer).
//
// Threading: handlers run on gRPC callback threads and never block; downstream
// calls use the async stub API and finish the reactor from their completion;
// durable Feedback appends run on a bounded worker pool, generator calls on
// another, Recommend's reads of a blocking store on the ladder's, GetHistory's
// on the Feedback pool (the embedded store's reads stay on the callback
// thread: a read lock).
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "common/server/arena_allocator.h"
#include "common/server/bundle_holder.h"
#include "common/server/metrics.h"
#include "common/server/wire_limits.h"
#include "common/server/worker_pool.h"
#include "gateway/ask.h"
#include "gateway/ask_generator.h"
#include "gateway/backend_status.h"
#include "gateway/budget.h"
#include "gateway/exposure_tracker.h"
#include "gateway/gateway_metrics.h"
#include "gateway/recommend_ladder.h"
#include "gateway/requests.h"
#include "gateway/response_cache.h"
#include "gateway/user_store.h"
#include "grpcpp/channel.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "recsys/v1/retrieval.grpc.pb.h"

namespace recsys::gateway {

// The gRPC service name (and the health service name readiness checks use).
inline constexpr char kGatewayServiceName[] = "recsys.v1.Recommender";

struct GatewayOptions {
  BudgetOptions budget;
  // max_k, max_history (also the most recent stored events sent downstream),
  // max_exclusions.
  RequestLimits limits;
  // Concurrent Recommend calls; more → RESOURCE_EXHAUSTED at once. Little's law
  // sizes it: saturation throughput x the callers' deadline (~1,600 computed
  // answers/s on 2 cores x the 50 ms default deadline = 80). Much larger lets
  // overload turn into timeouts and trending fallbacks instead of fast refusals.
  int max_inflight = 64;
  int feedback_workers = 32;  // threads waiting on durable appends (group commit batches them)
  int feedback_queue = 4096;  // queued Feedback calls; more → RESOURCE_EXHAUSTED
  // Threads reading a store whose reads block (the Redis store) for
  // Recommend; unused for the embedded store. See RecommendLadderOptions.
  int store_read_workers = 8;
  ResponseCacheOptions cache;  // exact answer cache (max_bytes 0 disables)
  AskOptions ask;              // Ask's candidate count and score weights
  // Ask's external generator (ask_generator.h); none = extractive answers only.
  std::optional<HttpUrl> ask_generator;
  // Longest generator step of one Ask, from retrieval's answer until the
  // generator's reply (queue wait included); the caller's deadline, less the
  // gateway's margin, bounds it too.
  absl::Duration ask_generator_timeout = absl::Seconds(2);
  // Threads blocked on generator calls: at most this many at once. Throughput
  // is about workers / generator latency (4 / 1 s = 4 answers/s).
  int ask_generator_workers = 4;
  // Ask calls waiting for a generator thread; more → RESOURCE_EXHAUSTED.
  int ask_generator_queue = 16;
  // Retrieval sharded by catalogue: one channel per shard, shard i at index i
  // (empty: one unsharded retrieval). Recommend fans out to all of them; Search,
  // SimilarItems, Ask and the health probe use the `retrieval` channel (any
  // shard answers those from the whole catalogue).
  std::vector<std::shared_ptr<grpc::ChannelInterface>> retrieval_shards;
  // The key retrieval and ranking share (--signals_key_file): the signals of
  // a merged pool are re-signed with it. Empty: merged signals go unsigned.
  std::string signals_key;
  // The served-exposure table behind recsys_gateway_exposure_* (its size and
  // decay; exposure_tracker.h).
  ExposureTrackerOptions exposure;
};

// Every method is a raw callback method: its bytes are checked against the
// wire limits (common/server/wire_limits.h: counts and sizes, and at most 64
// fields the schema does not know) before they are parsed, so a request of
// millions of tiny repeated elements or unknown fields costs its bytes, not
// 20-50x that. Raw also lets a string that is not UTF-8 (which protobuf
// refuses while parsing, and gRPC would answer INTERNAL) be INVALID_ARGUMENT.
class GatewayService final
    : public v1::Recommender::WithRawCallbackMethod_Ask<
          v1::Recommender::WithRawCallbackMethod_Recommend<
              v1::Recommender::WithRawCallbackMethod_Feedback<
                  v1::Recommender::WithRawCallbackMethod_SimilarItems<
                      v1::Recommender::WithRawCallbackMethod_Search<
                          v1::Recommender::WithRawCallbackMethod_GetModelInfo<
                              v1::Recommender::WithRawCallbackMethod_GetHistory<
                                  v1::Recommender::WithRawCallbackMethod_DeleteUser<
                                      v1::Recommender::Service>>>>>>>> {
 public:
  // `bundles` returns the bundle to serve with (loaded with
  // BundleParts::kGateway: catalogue, trending, histories), null before the
  // first. `store` and `metrics` are not owned and must outlive the service;
  // `metrics` may be null. The channels lead to recsys.v1.Retrieval and
  // recsys.v1.Ranking (see MakeBackendChannel).
  GatewayService(GatewayOptions options, BundleSource bundles, UserStore* store,
                 std::shared_ptr<grpc::ChannelInterface> retrieval,
                 std::shared_ptr<grpc::ChannelInterface> ranking, ServerMetrics* metrics);
  // Waits for queued Feedback appends.
  ~GatewayService() override;

  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx,
                                      const grpc::ByteBuffer* raw_request,
                                      grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* Feedback(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* raw_request,
                                    grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* SimilarItems(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* raw_request,
                                    grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* raw_request,
                                    grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* raw_request,
                                    grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* raw_request,
                                    grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* DeleteUser(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* raw_request,
                                    grpc::ByteBuffer* raw_response) override;
  grpc::ServerUnaryReactor* Ask(grpc::CallbackServerContext* ctx,
                                const grpc::ByteBuffer* raw_request,
                                grpc::ByteBuffer* raw_response) override;

  int inflight() const { return inflight_.load(); }

 private:
  // Sets `bundle` to the serving one; Unavailable before the first.
  absl::Status CurrentBundle(std::shared_ptr<const ModelBundle>* bundle) const;
  // The context of one retrieval lookup (Search, SimilarItems, Ask's Search)
  // made for `ctx`: the caller's request id and trace context, and the lookup
  // deadline (PlanLookupDeadline).
  std::shared_ptr<grpc::ClientContext> LookupContext(const grpc::CallbackServerContext& ctx) const;
  // Search / SimilarItems pass-through (see the .cc).
  // `call` is a StartRawCall result (gateway_service.cc).
  template <typename Call, typename Start>
  grpc::ServerUnaryReactor* ForwardToRetrieval(grpc::CallbackServerContext* ctx, const Call& call,
                                               Start&& start);

  const GatewayOptions options_;
  const BundleSource bundles_;
  UserStore* const store_;
  ServerMetrics* const server_metrics_;
  GatewayMetrics metrics_;
  ResponseCache cache_;
  // GetModelInfo's health checks (declared before ladder_, which takes the channels).
  const BackendProbe retrieval_probe_;
  const BackendProbe ranking_probe_;
  RecommendLadder ladder_;
  // Search and SimilarItems go straight to retrieval.
  const std::unique_ptr<v1::Retrieval::Stub> retrieval_;
  // Each Recommend call's request and response on one arena.
  // What a Recommend request may hold, checked before parsing.
  std::vector<WireFieldRule> event_rules_;
  WireLimits recommend_limits_;
  // The other methods: size and unknown fields (their fields are checked
  // after parsing by requests.h), one per request type.
  WireLimits feedback_limits_, similar_limits_, search_limits_, model_info_limits_,
      history_limits_, delete_limits_;
  WireLimits ask_limits_;  // size and unknown fields: AskRequest has no repeated fields
  std::atomic<int> inflight_{0};
  // Ask's generator, null when none is configured.
  const std::unique_ptr<const AskGenerator> ask_generator_;
  // Declared last: drained first, while everything its tasks use is alive.
  WorkerPool feedback_pool_;
  // Generator calls (null without a generator); drained before feedback_pool_.
  std::unique_ptr<WorkerPool> ask_pool_;
};

}  // namespace recsys::gateway
