#include "ranking_service/service.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/server/grpc_status.h"

namespace recsys::ranking {
namespace {

// Longest item id in a Rank request, bytes (the HistoryEvent contract).
constexpr int64_t kMaxRankIdBytes = 256;

}  // namespace

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
      max_inflight_(options.max_inflight),
      server_metrics_(metrics),
      metrics_(metrics ? std::make_unique<RankingMetrics>(*metrics) : nullptr),
      user_rules_(options.max_history, kMaxRankIdBytes) {
  if (server_metrics_ != nullptr) server_metrics_->Method(kRankingServiceName, "Rank");
  // Candidate: item_id = 1, sources = 2, signals = 3 (packed, or one float per
  // occurrence). RankRequest: user = 1, candidates = 2, options = 4,
  // exclude_item_ids = 5, signals = 6 (protos/recsys/v1/).
  constexpr int64_t kMaxSignals = 64;
  candidate_rules_ = {
      {.number = 1, .name = "item_id", .max_count = 1, .max_length = kMaxRankIdBytes},
      {.number = 2, .name = "sources", .max_count = 2 * kNumSources},
      {.number = 3, .name = "signals", .max_count = kMaxSignals,
       .max_length = kMaxSignals * 4},
  };
  wire_limits_.max_bytes = options.max_request_bytes;
  wire_limits_.descriptor = v1::RankRequest::descriptor();
  wire_limits_.fields = {
      user_rules_.Field(1, "user"),
      {.number = 2, .name = "candidates", .max_count = options.max_candidates,
       .nested = &candidate_rules_},
      {.number = 4, .name = "options", .max_count = 1},
      {.number = 5, .name = "exclude_item_ids", .max_count = options.max_exclusions,
       .max_length = kMaxRankIdBytes},
      {.number = 6, .name = "signals", .max_count = 1},
  };
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
                                               const grpc::ByteBuffer* raw_request,
                                               grpc::ByteBuffer* raw_response) {
  RpcRecorder recorder(server_metrics_, kRankingServiceName, "Rank");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status;
  if (context->IsCancelled()) {
    status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before ranking started");
  } else if (context->deadline() <= std::chrono::system_clock::now()) {
    status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed before ranking");
  } else if (absl::Status wire = CheckWireLimits(*raw_request, wire_limits_); !wire.ok()) {
    status = ToGrpcStatus(wire);
  } else if (inflight_.fetch_add(1) >= max_inflight_) {
    inflight_.fetch_sub(1);
    status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("ranking overloaded: ", max_inflight_,
                                       " Rank calls in flight"));
  } else {
    CallMessages<v1::RankRequest, v1::RankResponse> call;
    absl::Status s = ParseRequest(*raw_request, call.request);
    if (s.ok()) s = RankOnce(*call.request, call.response);
    if (s.ok()) s = SerializeResponse(*call.response, raw_response);
    inflight_.fetch_sub(1);
    status = ToGrpcStatus(s);
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
