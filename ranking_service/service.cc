#include "ranking_service/service.h"

#include <chrono>
#include <utility>

#include "common/log.h"
#include "common/server/grpc_status.h"

namespace recsys::ranking {

RankingMetrics::RankingMetrics(ServerMetrics& metrics)
    : batch_size_(prometheus::BuildHistogram()
                      .Name("recsys_ranking_batch_size")
                      .Help("Candidates per Rank request.")
                      .Register(metrics.registry())
                      .Add({}, prometheus::Histogram::BucketBoundaries(kBatchSizeBuckets))),
      user_state_seconds_(
          prometheus::BuildHistogram()
              .Name("recsys_ranking_user_state_seconds")
              .Help("Wall time (seconds) of building the user state from the request's "
                    "history per Rank.")
              .Register(metrics.registry())
              .Add({}, prometheus::Histogram::BucketBoundaries(kScoringSecondsBuckets))),
      scoring_seconds_(
          prometheus::BuildHistogram()
              .Name("recsys_ranking_scoring_seconds")
              .Help("Wall time (seconds) of features and model scoring of the pool per Rank.")
              .Register(metrics.registry())
              .Add({}, prometheus::Histogram::BucketBoundaries(kScoringSecondsBuckets))),
      unknown_candidates_(prometheus::BuildCounter()
                              .Name("recsys_ranking_unknown_candidates_total")
                              .Help("Rank candidates whose id the serving bundle does not know "
                                    "(kept out of the model, placed last).")
                              .Register(metrics.registry())
                              .Add({})) {
  auto& family = prometheus::BuildCounter()
                     .Name("recsys_ranking_signals_total")
                     .Help("Rank requests by what happened to retrieval's candidate signals: "
                           "used, absent, or ignored (other_model / other_user / other_schema / "
                           "unauthenticated: MAC not valid under --signals_key_file) and the "
                           "user state rebuilt.")
                     .Register(metrics.registry());
  for (SignalsVerdict v : {SignalsVerdict::kUse, SignalsVerdict::kAbsent,
                           SignalsVerdict::kOtherSchema, SignalsVerdict::kOtherModel,
                           SignalsVerdict::kOtherUser, SignalsVerdict::kUnauthenticated}) {
    signals_[static_cast<int>(v)] = &family.Add({{"verdict", SignalsVerdictName(v)}});
  }
}

void RankingMetrics::Record(const RankStats& stats) {
  batch_size_.Observe(stats.candidates);
  if (stats.candidates > 0) {
    user_state_seconds_.Observe(absl::ToDoubleSeconds(stats.user_state));
    scoring_seconds_.Observe(absl::ToDoubleSeconds(stats.scoring));
  }
  if (stats.unknown_candidates > 0) unknown_candidates_.Increment(stats.unknown_candidates);
  if (stats.candidates > 0) signals_[static_cast<int>(stats.signals_verdict)]->Increment();
}

RankingService::RankingService(BundleSource bundles, RankerOptions options, ServerMetrics* metrics)
    : bundles_(std::move(bundles)),
      ranker_(options),
      server_metrics_(metrics),
      metrics_(metrics ? std::make_unique<RankingMetrics>(*metrics) : nullptr) {
  if (server_metrics_ != nullptr) server_metrics_->Method(kRankingServiceName, "Rank");
  SetMessageAllocatorFor_Rank(&allocator_);
}

absl::Status RankingService::RankOnce(const v1::RankRequest& request, v1::RankResponse* response) {
  // Taken once: a swap during the request does not affect it.
  std::shared_ptr<const ModelBundle> bundle = bundles_();
  if (bundle == nullptr) {
    // A bad request stays INVALID_ARGUMENT (not retryable) even while loading.
    if (absl::Status s = ranker_.Validate(request); !s.ok()) return s;
    return absl::UnavailableError("no model bundle loaded yet");
  }
  RankStats stats;  // Rank validates the request first
  if (absl::Status s = ranker_.Rank(*bundle, request, response, &stats); !s.ok()) return s;
  if (metrics_ != nullptr) metrics_->Record(stats);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RankingService::Rank(grpc::CallbackServerContext* context,
                                               const v1::RankRequest* request,
                                               v1::RankResponse* response) {
  RpcRecorder recorder(server_metrics_, kRankingServiceName, "Rank");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status;
  if (context->IsCancelled()) {
    status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before ranking started");
  } else if (context->deadline() <= std::chrono::system_clock::now()) {
    status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed before ranking");
  } else {
    status = ToGrpcStatus(RankOnce(*request, response));
  }
  recorder.Finish(status);  // IMPORTANT: before Finish, which may free the call
  reactor->Finish(status);
  return reactor;
}

absl::StatusOr<std::unique_ptr<RankingServer>> RankingServer::Start(RankingServerOptions options,
                                                                    ServerMetrics* metrics) {
  std::unique_ptr<RankingServer> self(new RankingServer());
  const RankerOptions ranker = options.ranker;
  absl::Status s = self->Init(std::move(options.server), std::move(options.bundle),
                              options.start_polling, kRankingServiceName, "ranking", metrics,
                              [&](BundleSource bundles) {
                                return std::make_unique<RankingService>(std::move(bundles), ranker,
                                                                        metrics);
                              });
  if (!s.ok()) return s;
  return self;
}

}  // namespace recsys::ranking
