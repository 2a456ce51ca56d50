#include "retrieval_service/service.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "common/server/grpc_status.h"
#include "common/server/rank_signals.h"
#include "retrieval_service/item_search.h"

namespace recsys::retrieval {
namespace {

absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point d = context.deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

// One unary call in flight: its RED record and its reactor. Shared by the tasks
// that may finish it; Finish is called exactly once.
class PendingCall {
 public:
  PendingCall(ServerMetrics* metrics, const char* method, grpc::ServerUnaryReactor* reactor)
      : recorder_(metrics, kRetrievalServiceName, method), reactor_(reactor) {}

  void Finish(const absl::Status& status) {
    const grpc::Status grpc_status = ToGrpcStatus(status);
    recorder_.Finish(grpc_status);  // IMPORTANT: before reactor Finish, which may free the call
    reactor_->Finish(grpc_status);
  }

 private:
  RpcRecorder recorder_;
  grpc::ServerUnaryReactor* const reactor_;
};

}  // namespace

RetrievalMetrics::RetrievalMetrics(ServerMetrics& metrics) {
  prometheus::Registry& registry = metrics.registry();
  auto& seconds = prometheus::BuildHistogram()
                      .Name("recsys_retrieval_source_seconds")
                      .Help("Wall time (seconds) of one retrieval source for one request.")
                      .Register(registry);
  auto& candidates = prometheus::BuildHistogram()
                         .Name("recsys_retrieval_candidates")
                         .Help("Candidates one retrieval source returned for one request.")
                         .Register(registry);
  auto& skipped = prometheus::BuildCounter()
                      .Name("recsys_retrieval_source_skipped_total")
                      .Help(
                          "Retrieval sources skipped for a request, by reason (deadline: "
                          "would start too close to the deadline; queue_full: worker queue "
                          "full; error: the source failed).")
                      .Register(registry);
  for (int s = 0; s < kNumSources; ++s) {
    const std::string source = SourceName(static_cast<SourceId>(s));
    source_seconds_[s] = &seconds.Add(
        {{"source", source}}, prometheus::Histogram::BucketBoundaries(kSourceSecondsBuckets));
    candidates_[s] = &candidates.Add(
        {{"source", source}}, prometheus::Histogram::BucketBoundaries(kCandidateCountBuckets));
    for (int r = 0; r < kNumSkipReasons; ++r) {
      skipped_[s][r] = &skipped.Add(
          {{"source", source}, {"reason", SkipReasonName(static_cast<SkipReason>(r))}});
    }
  }
  unknown_history_ = &prometheus::BuildCounter()
                          .Name("recsys_retrieval_unknown_history_items_total")
                          .Help(
                              "History events whose item id the serving bundle does not know "
                              "(ignored).")
                          .Register(registry)
                          .Add({});
  unknown_categories_ = &prometheus::BuildCounter()
                             .Name("recsys_retrieval_unknown_categories_total")
                             .Help(
                                 "Category hints (UserContext.categories) that name no category "
                                 "of the serving bundle (ignored).")
                             .Register(registry)
                             .Add({});
}

void RetrievalMetrics::RecordPool(const PoolResult& result) {
  for (int s = 0; s < kNumSources; ++s) {
    const SourceOutcome& o = result.sources[s];
    if (o.ran) {
      source_seconds_[s]->Observe(absl::ToDoubleSeconds(o.elapsed));
      candidates_[s]->Observe(o.candidates);
    }
    if (o.skipped) skipped_[s][static_cast<int>(*o.skipped)]->Increment();
  }
}

void RetrievalMetrics::RecordUnknownHistoryItems(int count) {
  if (count > 0) unknown_history_->Increment(count);
}

void RetrievalMetrics::RecordUnknownCategories(int count) {
  if (count > 0) unknown_categories_->Increment(count);
}

RetrievalService::RetrievalService(BundleSource bundles, RetrievalServiceOptions options,
                                   ServerMetrics* metrics)
    : bundles_(std::move(bundles)),
      options_(std::move(options)),
      user_rules_(options_.limits.max_history, options_.limits.max_id_bytes),
      server_metrics_(metrics),
      metrics_(metrics ? std::make_unique<RetrievalMetrics>(*metrics) : nullptr),
      workers_(std::make_unique<WorkerPool>(options_.workers, options_.queue_capacity)),
      pool_(std::make_unique<CandidatePool>(
          workers_.get(), MakeDefaultRetrievers(),
          CandidatePoolOptions{options_.deadline_margin, options_.clock})) {
  if (server_metrics_ != nullptr) {
    for (const char* method : {"Retrieve", "Search", "SimilarItems"}) {
      server_metrics_->Method(kRetrievalServiceName, method);  // series exist at 0
    }
  }
  // RetrieveRequest: user = 1, quotas = 2, exclude_item_ids = 3.
  retrieve_limits_.max_bytes = options_.limits.max_request_bytes;
  search_limits_.max_bytes = options_.limits.max_request_bytes;
  search_limits_.descriptor = v1::SearchRequest::descriptor();
  similar_limits_.max_bytes = options_.limits.max_request_bytes;
  similar_limits_.descriptor = v1::SimilarItemsRequest::descriptor();
  retrieve_limits_.descriptor = v1::RetrieveRequest::descriptor();
  retrieve_limits_.fields = {
      user_rules_.Field(1, "user"),
      {.number = 2, .name = "quotas", .max_count = 2 * kNumSources},
      {.number = 3, .name = "exclude_item_ids", .max_count = options_.limits.max_exclusions,
       .max_length = options_.limits.max_id_bytes},
  };
}

RetrievalService::~RetrievalService() {
  workers_.reset();  // drain: queued tasks finish their calls while pool_ is alive
}

void RetrievalService::RetrieveAsync(const v1::RetrieveRequest& request,
                                     v1::RetrieveResponse* response, absl::Time deadline,
                                     std::function<void(absl::Status)> done) {
  if (absl::Status s = ValidateRetrieveRequest(request, options_.limits); !s.ok()) {
    done(s);
    return;
  }
  // Taken once: a swap during the request does not affect it.
  std::shared_ptr<const ModelBundle> bundle = bundles_();
  if (bundle == nullptr) {
    done(absl::UnavailableError("no model bundle loaded yet"));
    return;
  }
  ConvertedRetrieve converted = ConvertRetrieveRequest(bundle, request);
  converted.pool.deadline = deadline;
  const int unknown = converted.unknown_history_items;
  const uint64_t fingerprint = converted.user_fingerprint;
  const ShardListing listing = converted.listing;
  if (metrics_ != nullptr) {
    metrics_->RecordUnknownHistoryItems(unknown);
    metrics_->RecordUnknownCategories(converted.unknown_categories);
  }
  // `done` is shared with the completion: when Submit fails it was never called.
  auto shared_done = std::make_shared<std::function<void(absl::Status)>>(std::move(done));
  absl::Status submitted = pool_->Submit(
      std::move(converted.pool), [this, bundle, response, unknown, fingerprint, listing, shared_done](PoolResult result) {
        FillRetrieveResponse(*bundle, result, unknown, fingerprint, listing, response);
        if (response->has_signals()) {
          SignRankSignals(options_.signals_key, response->candidates(), response->mutable_signals());
        }
        if (metrics_ != nullptr) metrics_->RecordPool(result);
        (*shared_done)(absl::OkStatus());
      });
  // IMPORTANT: after a successful Submit the call may already be finished; touch
  // nothing of it here.
  if (!submitted.ok()) (*shared_done)(submitted);
}

absl::Status RetrievalService::RetrieveBlocking(const v1::RetrieveRequest& request,
                                                v1::RetrieveResponse* response,
                                                absl::Time deadline) {
  absl::Notification finished;
  absl::Status status;
  RetrieveAsync(request, response, deadline, [&](absl::Status s) {
    status = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return status;
}

absl::Status RetrievalService::SearchOnce(const v1::SearchRequest& request,
                                          v1::SearchResponse* response) const {
  if (absl::Status s = ValidateSearchRequest(request, options_.limits); !s.ok()) return s;
  std::shared_ptr<const ModelBundle> bundle = bundles_();
  if (bundle == nullptr) return absl::UnavailableError("no model bundle loaded yet");
  return SearchItems(*bundle, request, response);
}

absl::Status RetrievalService::SimilarItemsOnce(const v1::SimilarItemsRequest& request,
                                                v1::SimilarItemsResponse* response) const {
  if (absl::Status s = ValidateSimilarItemsRequest(request, options_.limits); !s.ok()) return s;
  std::shared_ptr<const ModelBundle> bundle = bundles_();
  if (bundle == nullptr) return absl::UnavailableError("no model bundle loaded yet");
  return FindSimilarItems(*bundle, request, response);
}

grpc::ServerUnaryReactor* RetrievalService::Retrieve(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* raw_request,
                                                     grpc::ByteBuffer* raw_response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<PendingCall>(server_metrics_, "Retrieve", reactor);
  absl::Status status = CheckWireLimits(*raw_request, retrieve_limits_);
  auto messages = std::make_shared<CallMessages<v1::RetrieveRequest, v1::RetrieveResponse>>();
  if (status.ok()) status = ParseRequest(*raw_request, messages->request);
  if (!status.ok()) {
    call->Finish(status);
    return reactor;
  }
  RetrieveAsync(*messages->request, messages->response, DeadlineOf(*context),
                [call, messages, raw_response](absl::Status s) {
                  if (s.ok()) s = SerializeResponse(*messages->response, raw_response);
                  call->Finish(s);
                });
  return reactor;  // the saved pointer only: the call may be finished already
}

grpc::ServerUnaryReactor* RetrievalService::RunOnWorker(grpc::CallbackServerContext* context,
                                                        const char* method,
                                                        std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<PendingCall>(server_metrics_, method, reactor);
  const absl::Time deadline = DeadlineOf(*context);
  const bool queued = workers_->TrySchedule([this, call, deadline, work = std::move(work)] {
    if (Now() > deadline) {
      call->Finish(absl::DeadlineExceededError("deadline passed while the request was queued"));
      return;
    }
    call->Finish(work());
  });
  if (!queued) {
    call->Finish(
        absl::ResourceExhaustedError(absl::StrCat("retrieval overloaded: worker queue full (",
                                                  workers_->queue_capacity(), " tasks waiting)")));
  }
  return reactor;
}

namespace {
// Checks and parses a raw request into `request`: the wire limits, then a
// parse (well-formed bytes that do not parse hold a string that is not UTF-8).
absl::Status ParseChecked(const grpc::ByteBuffer& raw, const WireLimits& limits,
                          google::protobuf::Message* request) {
  if (absl::Status s = CheckWireLimits(raw, limits); !s.ok()) return s;
  if (!ParseRequest(raw, request).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("undecodable request: a string field of ",
                                                   request->GetTypeName(),
                                                   " is not valid UTF-8"));
  }
  return absl::OkStatus();
}
}  // namespace

grpc::ServerUnaryReactor* RetrievalService::Search(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* raw_request,
                                                   grpc::ByteBuffer* raw_response) {
  auto request = std::make_shared<v1::SearchRequest>();
  const absl::Status parsed = ParseChecked(*raw_request, search_limits_, request.get());
  return RunOnWorker(context, "Search", [this, parsed, request, raw_response] {
    if (!parsed.ok()) return parsed;
    v1::SearchResponse response;
    if (absl::Status s = SearchOnce(*request, &response); !s.ok()) return s;
    return SerializeResponse(response, raw_response);
  });
}

grpc::ServerUnaryReactor* RetrievalService::SimilarItems(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* raw_request,
                                                         grpc::ByteBuffer* raw_response) {
  auto request = std::make_shared<v1::SimilarItemsRequest>();
  const absl::Status parsed = ParseChecked(*raw_request, similar_limits_, request.get());
  return RunOnWorker(context, "SimilarItems", [this, parsed, request, raw_response] {
    if (!parsed.ok()) return parsed;
    v1::SimilarItemsResponse response;
    if (absl::Status s = SimilarItemsOnce(*request, &response); !s.ok()) return s;
    return SerializeResponse(response, raw_response);
  });
}

absl::StatusOr<std::unique_ptr<RetrievalServer>> RetrievalServer::Start(
    RetrievalServerOptions options, ServerMetrics* metrics) {
  std::unique_ptr<RetrievalServer> self(new RetrievalServer());
  if (!options.bundle.loader) {
    options.bundle.loader = [](const std::string& dir) {
      return ModelBundle::Load(dir, BundleParts::kRetrieval);
    };
  }
  absl::Status s = self->Init(std::move(options.server), std::move(options.bundle),
                              options.start_polling, kRetrievalServiceName, "retrieval", metrics,
                              [&](BundleSource bundles) {
                                return std::make_unique<RetrievalService>(
                                    std::move(bundles), std::move(options.service), metrics);
                              });
  if (!s.ok()) return s;
  return self;
}

}  // namespace recsys::retrieval
