// recsys.v1.Ranking over gRPC (callback API), and the wiring of one ranking
// server process: bundle holder → service → gRPC server with health.
//
//   ASSIGN_OR_RETURN(auto metrics, ServerMetrics::Create("0.0.0.0:9093"));
//   RankingServerOptions o;
//   o.server.address = "0.0.0.0:50053";
//   o.bundle.registry_root = "registry"; o.bundle.model_name = "movielens";
//   ASSIGN_OR_RETURN(auto server, RankingServer::Start(std::move(o), metrics.get()));
//   WaitForTerminationSignal();
//   server->Shutdown(absl::Seconds(10));
//
// Metrics (on the ServerMetrics registry, besides RED and recsys_bundle_*):
//   recsys_ranking_batch_size                 histogram, candidates per Rank call
//   recsys_ranking_user_state_seconds         histogram, request → UserState (history work)
//   recsys_ranking_scoring_seconds            histogram, features + model over the pool
//   recsys_ranking_unknown_candidates_total   counter, candidate ids the bundle lacked
#pragma once

#include <atomic>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/bundle/model_bundle.h"
#include "common/server/arena_allocator.h"
#include "common/server/bundle_holder.h"
#include "common/server/bundle_server.h"
#include "common/server/metrics.h"
#include "common/server/request_limits.h"
#include "common/server/server_main_util.h"
#include "common/server/wire_limits.h"
#include "ranking_service/ranker.h"
#include "recsys/v1/ranking.grpc.pb.h"

namespace recsys::ranking {

inline constexpr char kRankingServiceName[] = "recsys.v1.Ranking";

// Upper bounds of recsys_ranking_batch_size (candidates).
inline const std::vector<double> kBatchSizeBuckets = {0,   10,  25,  50,   100,  200, 300,
                                                      400, 500, 750, 1000, 1500, 2000};
// Upper bounds of recsys_ranking_scoring_seconds and _user_state_seconds.
inline const std::vector<double> kScoringSecondsBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25};

// The ranking families on a ServerMetrics registry. Safe to use concurrently.
class RankingMetrics {
 public:
  explicit RankingMetrics(ServerMetrics& metrics);
  void Record(const RankStats& stats);

 private:
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& user_state_seconds_;
  prometheus::Histogram& scoring_seconds_;
  prometheus::Counter& unknown_candidates_;
  // Per SignalsVerdict: whether retrieval's signals were used.
  std::array<prometheus::Counter*, 6> signals_{};
};

// Rank is a raw callback method: its bytes are checked against the wire
// limits (counts and sizes, common/server/wire_limits.h) before they are parsed.
class RankingService final : public v1::Ranking::WithRawCallbackMethod_Rank<v1::Ranking::Service> {
 public:
  // `metrics` (not owned, may be null) must outlive the service.
  RankingService(BundleSource bundles, RankerOptions options, ServerMetrics* metrics);

  // The RPC: records RED, converts the status at the edge.
  //
  // Threading: Rank runs inline on gRPC's callback thread. It is bounded CPU
  // work without I/O, locks or downstream calls (bench/rank_bench.cc, 500
  // candidates: p50 ~0.5 ms, of which features + model ~0.13 ms; p99 ~5 ms,
  // from users with thousands of history events), so a hand-off to a worker
  // pool would add a thread switch and a second queue to bound for little
  // gain: the CPU is the limit either way, and gRPC's callback executor
  // already grows with load. Revisit if a Rank ever blocks or routinely takes
  // tens of milliseconds.
  grpc::ServerUnaryReactor* Rank(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;

  // The core of Rank without a network: validation, bundle, ranking, metrics.
  // UNAVAILABLE when no bundle is loaded.
  absl::Status RankOnce(const v1::RankRequest& request, v1::RankResponse* response);

 private:
  const BundleSource bundles_;
  const Ranker ranker_;
  const int max_inflight_;
  std::atomic<int> inflight_{0};
  ServerMetrics* const server_metrics_;
  std::unique_ptr<RankingMetrics> metrics_;  // null without server_metrics_
  // What a Rank request may hold, checked before parsing.
  UserContextWireRules user_rules_;
  std::vector<WireFieldRule> candidate_rules_;
  WireLimits wire_limits_;
};

struct RankingServerOptions {
  // health_service is forced to kRankingServiceName.
  ServerOptions server;
  // registry_root, model_name, poll_interval (and, for tests, loader /
  // production_version). on_change, if set, runs after health flips to SERVING;
  // metrics is set by Start.
  BundleHolderOptions bundle;
  RankerOptions ranker;
  // false: no polling thread; the caller drives holder().PollOnce() (tests).
  bool start_polling = true;
};

// One ranking server: owns the bundle holder, the service and the gRPC server.
// Health is NOT_SERVING until the first bundle loads, then SERVING.
class RankingServer : public BundleServer<RankingService> {
 public:
  // `metrics` (not owned, may be null) must outlive the server. Unavailable if
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RankingServer>> Start(RankingServerOptions options,
                                                              ServerMetrics* metrics);

 private:
  RankingServer() = default;
};

}  // namespace recsys::ranking
