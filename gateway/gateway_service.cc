#include "gateway/gateway_service.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/server/grpc_status.h"
#include "common/server/request_limits.h"
#include "common/server/request_context.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace recsys::gateway {
namespace {

std::optional<absl::Time> CallerDeadlineOf(const grpc::CallbackServerContext& ctx) {
  return CallerDeadline(absl::FromChrono(ctx.deadline()), absl::Now());
}

RecommendLadderOptions LadderOptions(const GatewayOptions& options) {
  RecommendLadderOptions o;
  o.budget = options.budget;
  o.max_history = options.limits.max_history;
  o.store_read_workers = options.store_read_workers;
  o.store_read_queue = options.max_inflight;  // admission control bounds the reads waiting
  if (!options.retrieval_shards.empty()) {
    o.shards = std::make_shared<const ShardedRetrieval>(options.retrieval_shards,
                                                        options.signals_key);
  }
  return o;
}

using Done = std::function<void(grpc::Status)>;

// A call's reactor, and `finish`, which records the call (RpcRecorder) and
// finishes the reactor with the same status. `finish` must run exactly once.
struct CallEnd {
  grpc::ServerUnaryReactor* reactor;
  Done finish;
};
CallEnd StartCall(grpc::CallbackServerContext* ctx, ServerMetrics* metrics, const char* method) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto rec = std::make_shared<RpcRecorder>(metrics, kGatewayServiceName, method);
  return {reactor, [reactor, rec](grpc::Status status) {
            rec->Finish(status);
            reactor->Finish(status);
          }};
}

// A raw call's parsed request and its response, which `finish` serializes
// into the call's response bytes before finishing (when the status is OK).
// `parsed` is the wire check and parse result: when it is not OK the handler
// finishes with it at once.
template <typename Request, typename Response>
struct RawCall {
  grpc::ServerUnaryReactor* reactor;
  std::shared_ptr<Request> request;
  std::shared_ptr<Response> response;
  Done finish;
  absl::Status parsed;
};
template <typename Request, typename Response>
RawCall<Request, Response> StartRawCall(grpc::CallbackServerContext* ctx, ServerMetrics* metrics,
                                        const char* method, const grpc::ByteBuffer& raw_request,
                                        grpc::ByteBuffer* raw_response, const WireLimits& limits) {
  const CallEnd call = StartCall(ctx, metrics, method);
  auto request = std::make_shared<Request>();
  auto response = std::make_shared<Response>();
  absl::Status parsed = CheckWireLimits(raw_request, limits);
  // Well-formed bytes that still do not parse: a string that is not UTF-8.
  if (parsed.ok() && !ParseRequest(raw_request, request.get()).ok()) {
    parsed = absl::InvalidArgumentError(absl::StrCat(
        "undecodable request: a string field of ", Request::descriptor()->full_name(),
        " is not valid UTF-8"));
  }
  Done finish = [finish = call.finish, response, raw_response](grpc::Status status) {
    if (status.ok()) status = ToGrpcStatus(SerializeResponse(*response, raw_response));
    finish(status);
  };
  return {call.reactor, std::move(request), std::move(response), std::move(finish),
          std::move(parsed)};
}

WireLimits LimitsFor(const google::protobuf::Descriptor* descriptor, int64_t max_bytes) {
  WireLimits limits;
  limits.max_bytes = max_bytes;
  limits.descriptor = descriptor;
  return limits;
}

}  // namespace

// Search and SimilarItems: passed through to retrieval, which validates them,
// with their own deadline (PlanLookupDeadline) and the caller's request id and
// trace context. `start(client, done)` starts the downstream call.
template <typename Call, typename Start>
grpc::ServerUnaryReactor* GatewayService::ForwardToRetrieval(grpc::CallbackServerContext* ctx,
                                                             const Call& call, Start&& start) {
  if (!call.parsed.ok()) {
    call.finish(ToGrpcStatus(call.parsed));
    return call.reactor;
  }
  std::shared_ptr<grpc::ClientContext> client = LookupContext(*ctx);
  // The request and the client context live until the downstream call ends
  // (the response lives in `finish`).
  start(client.get(), [finish = call.finish, client, request = call.request](grpc::Status status) {
    finish(status);
  });
  return call.reactor;
}

std::shared_ptr<grpc::ClientContext> GatewayService::LookupContext(
    const grpc::CallbackServerContext& ctx) const {
  auto client =
      std::shared_ptr<grpc::ClientContext>(grpc::ClientContext::FromCallbackServerContext(ctx));
  AddDownstreamMetadata(ctx, client.get());  // request id, traceparent
  client->set_deadline(
      absl::ToChronoTime(PlanLookupDeadline(absl::Now(), CallerDeadlineOf(ctx), options_.budget)));
  return client;
}

GatewayService::GatewayService(GatewayOptions options, BundleSource bundles, UserStore* store,
                               std::shared_ptr<grpc::ChannelInterface> retrieval,
                               std::shared_ptr<grpc::ChannelInterface> ranking,
                               ServerMetrics* metrics)
    : options_(std::move(options)),
      bundles_(std::move(bundles)),
      store_(store),
      server_metrics_(metrics),
      metrics_(metrics, options_.exposure),
      cache_(options_.cache),
      retrieval_probe_(retrieval, v1::Retrieval::service_full_name()),
      ranking_probe_(ranking, v1::Ranking::service_full_name()),
      ladder_(LadderOptions(options_), retrieval, std::move(ranking), store, &cache_, &metrics_),
      retrieval_(v1::Retrieval::NewStub(std::move(retrieval))),
      ask_generator_(options_.ask_generator
                         ? std::make_unique<AskGenerator>(*options_.ask_generator,
                                                          options_.ask_generator_timeout)
                         : nullptr),
      feedback_pool_(options_.feedback_workers, options_.feedback_queue),
      ask_pool_(options_.ask_generator
                    ? std::make_unique<WorkerPool>(options_.ask_generator_workers,
                                                   options_.ask_generator_queue)
                    : nullptr) {
  // HistoryEvent: item_id = 1. RecommendRequest: user_id = 1,
  // context_categories = 3, exclude_item_ids = 4, extra_history = 7.
  event_rules_ = {{.number = 1, .name = "item_id", .max_count = 1,
                   .max_length = static_cast<int64_t>(kMaxIdBytes)}};
  recommend_limits_.max_bytes = options_.limits.max_request_bytes;
  recommend_limits_.descriptor = v1::RecommendRequest::descriptor();
  recommend_limits_.fields = {
      {.number = 1, .name = "user_id", .max_count = 1,
       .max_length = static_cast<int64_t>(kMaxIdBytes)},
      {.number = 3, .name = "context_categories", .max_count = kMaxCategoryHints,
       .max_length = static_cast<int64_t>(kMaxCategoryBytes)},
      {.number = 4, .name = "exclude_item_ids", .max_count = options_.limits.max_exclusions,
       .max_length = static_cast<int64_t>(kMaxIdBytes)},
      {.number = 7, .name = "extra_history", .max_count = options_.limits.max_history,
       .nested = &event_rules_},
  };
  ask_limits_.max_bytes = options_.limits.max_request_bytes;
  const int64_t max_bytes = options_.limits.max_request_bytes;
  feedback_limits_ = LimitsFor(v1::FeedbackRequest::descriptor(), max_bytes);
  similar_limits_ = LimitsFor(v1::SimilarItemsRequest::descriptor(), max_bytes);
  search_limits_ = LimitsFor(v1::SearchRequest::descriptor(), max_bytes);
  model_info_limits_ = LimitsFor(v1::GetModelInfoRequest::descriptor(), max_bytes);
  history_limits_ = LimitsFor(v1::GetHistoryRequest::descriptor(), max_bytes);
  delete_limits_ = LimitsFor(v1::DeleteUserRequest::descriptor(), max_bytes);
  ask_limits_.descriptor = v1::AskRequest::descriptor();
  if (store_ != nullptr) metrics_.RecordStore(*store_);  // start-up figures (users, log recovery)
}

GatewayService::~GatewayService() {
  if (cache_.enabled()) {
    LOG(INFO) << "answer cache: " << cache_.size() << " answers in "
              << static_cast<double>(cache_.bytes()) / (1 << 20) << " MiB";
  }
}

absl::Status GatewayService::CurrentBundle(std::shared_ptr<const ModelBundle>* bundle) const {
  *bundle = bundles_();
  if (*bundle == nullptr) return absl::UnavailableError("no model bundle loaded yet");
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* GatewayService::Recommend(grpc::CallbackServerContext* ctx,
                                                    const grpc::ByteBuffer* raw_request,
                                                    grpc::ByteBuffer* raw_response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto rec = std::make_unique<RpcRecorder>(server_metrics_, kGatewayServiceName, "Recommend");
  std::shared_ptr<const ModelBundle> bundle;
  auto messages =
      std::make_shared<CallMessages<v1::RecommendRequest, v1::RecommendResponse>>();
  const v1::RecommendRequest* request = messages->request;
  v1::RecommendResponse* response = messages->response;
  absl::Status status = CheckWireLimits(*raw_request, recommend_limits_);
  if (status.ok()) status = ParseRequest(*raw_request, messages->request);
  if (status.ok()) status = ValidateRecommendRequest(*request, options_.limits);
  if (status.ok()) status = CurrentBundle(&bundle);
  // Admission control: refuse at once rather than queue without bound.
  if (status.ok() && inflight_.fetch_add(1) >= options_.max_inflight) {
    inflight_.fetch_sub(1);
    metrics_.CountRejected();
    status = absl::ResourceExhaustedError("gateway overloaded: too many Recommend calls in flight");
  }
  if (!status.ok()) {
    const grpc::Status grpc_status = ToGrpcStatus(status);
    rec->Finish(grpc_status);
    reactor->Finish(grpc_status);
    return reactor;
  }
  metrics_.InflightStarted();
  const StageDeadlines deadlines = PlanBudget(absl::Now(), CallerDeadlineOf(*ctx), options_.budget);
  ladder_.Run(request, response, std::move(bundle), deadlines, ctx,
              [this, reactor, rec = std::move(rec), messages, raw_response] {
                inflight_.fetch_sub(1);
                metrics_.InflightFinished();
                const grpc::Status status =
                    ToGrpcStatus(SerializeResponse(*messages->response, raw_response));
                rec->Finish(status);
                reactor->Finish(status);
              });
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::Feedback(grpc::CallbackServerContext* ctx,
                                                   const grpc::ByteBuffer* raw_request,
                                                   grpc::ByteBuffer* raw_response) {
  auto call = StartRawCall<v1::FeedbackRequest, v1::FeedbackResponse>(
      ctx, server_metrics_, "Feedback", *raw_request, raw_response, feedback_limits_);
  grpc::ServerUnaryReactor* reactor = call.reactor;
  const Done finish = call.finish;
  const v1::FeedbackRequest* request = call.request.get();
  std::shared_ptr<v1::FeedbackResponse> response = call.response;
  std::shared_ptr<const ModelBundle> bundle;
  absl::Status status = call.parsed;
  if (status.ok()) status = ValidateFeedbackRequest(*request, options_.limits);
  if (status.ok()) status = CurrentBundle(&bundle);
  if (status.ok()) status = CheckFeedbackItemKnown(*bundle, *request);
  if (!status.ok()) {
    finish(ToGrpcStatus(status));
    return reactor;
  }
  const absl::Time received = absl::Now();
  UserEvent event = FeedbackEvent(*request, absl::ToUnixSeconds(received));
  const std::string user = request->user_id();
  const std::string key = request->idempotency_key();
  // The durable append waits for an fsync: run it off the callback thread.
  const bool queued =
      feedback_pool_.TrySchedule([this, user, key, event, response, finish, received] {
        absl::StatusOr<uint64_t> seq = store_->AppendOnce(user, event, key);
        if (seq.ok()) {
          response->set_sequence(*seq);
          metrics_.ObserveFeedbackDurable(absl::Now() - received);
        }
        metrics_.RecordStore(*store_);
        finish(seq.ok() ? grpc::Status::OK : ToGrpcStatus(seq.status()));
      });
  if (!queued) {
    metrics_.CountRejected();
    finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "feedback queue full"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::SimilarItems(grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* raw_request,
                                                       grpc::ByteBuffer* raw_response) {
  auto call = StartRawCall<v1::SimilarItemsRequest, v1::SimilarItemsResponse>(
      ctx, server_metrics_, "SimilarItems", *raw_request, raw_response, similar_limits_);
  return ForwardToRetrieval(ctx, call, [&](grpc::ClientContext* client, Done done) {
    retrieval_->async()->SimilarItems(client, call.request.get(), call.response.get(),
                                      std::move(done));
  });
}

grpc::ServerUnaryReactor* GatewayService::Search(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* raw_request,
                                                 grpc::ByteBuffer* raw_response) {
  auto call = StartRawCall<v1::SearchRequest, v1::SearchResponse>(
      ctx, server_metrics_, "Search", *raw_request, raw_response, search_limits_);
  return ForwardToRetrieval(ctx, call, [&](grpc::ClientContext* client, Done done) {
    retrieval_->async()->Search(client, call.request.get(), call.response.get(), std::move(done));
  });
}

grpc::ServerUnaryReactor* GatewayService::GetModelInfo(grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* raw_request,
                                                       grpc::ByteBuffer* raw_response) {
  auto call = StartRawCall<v1::GetModelInfoRequest, v1::GetModelInfoResponse>(
      ctx, server_metrics_, "GetModelInfo", *raw_request, raw_response, model_info_limits_);
  grpc::ServerUnaryReactor* reactor = call.reactor;
  const Done finish = call.finish;
  std::shared_ptr<v1::GetModelInfoResponse> response = call.response;
  std::shared_ptr<const ModelBundle> bundle;
  absl::Status status = call.parsed;
  if (status.ok()) status = CurrentBundle(&bundle);
  if (!status.ok()) {
    finish(ToGrpcStatus(status));
    return reactor;
  }
  const ModelBundle& b = *bundle;
  response->set_model_name(b.manifest.name());
  response->set_model_version(b.manifest.version());
  response->set_num_items(b.num_items());
  response->set_num_users(store_->num_users());
  v1::BundleManifest* manifest = response->mutable_manifest();
  *manifest = b.manifest;
  manifest->clear_files();
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  if (google::protobuf::util::MessageToJsonString(*manifest, &json, print).ok()) {
    response->set_manifest_json(json);
  }
  // Both health checks run at once; the later one to finish answers.
  struct Probes {
    ProbeResult retrieval, ranking;
    std::atomic<int> left{2};
  };
  auto probes = std::make_shared<Probes>();
  auto one_done = [this, probes, response, finish] {
    if (probes->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const BackendVersions v = ladder_.backend_versions();
    FillBackendStatus(probes->retrieval, v.retrieval, v.retrieval_contact,
                      response->mutable_retrieval());
    FillBackendStatus(probes->ranking, v.ranking, v.ranking_contact, response->mutable_ranking());
    // The older fields name a version only while that backend serves it.
    if (probes->retrieval.state == v1::BACKEND_STATE_AVAILABLE) {
      response->set_retrieval_version(v.retrieval);
    }
    if (probes->ranking.state == v1::BACKEND_STATE_AVAILABLE) {
      response->set_ranking_version(v.ranking);
    }
    finish(grpc::Status::OK);
  };
  const absl::Time deadline = absl::FromChrono(ctx->deadline());
  retrieval_probe_.Check(kBackendProbeTimeout, deadline, [this, probes, one_done](ProbeResult r) {
    if (r.reached) ladder_.versions().RecordRetrievalContact(absl::Now());
    probes->retrieval = std::move(r);
    one_done();
  });
  ranking_probe_.Check(kBackendProbeTimeout, deadline, [this, probes, one_done](ProbeResult r) {
    if (r.reached) ladder_.versions().RecordRankingContact(absl::Now());
    probes->ranking = std::move(r);
    one_done();
  });
  // Nothing after this line: the reactor may already be finished.
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::GetHistory(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* raw_request,
                                                     grpc::ByteBuffer* raw_response) {
  auto call = StartRawCall<v1::GetHistoryRequest, v1::GetHistoryResponse>(
      ctx, server_metrics_, "GetHistory", *raw_request, raw_response, history_limits_);
  absl::Status status = call.parsed;
  if (status.ok()) status = ValidateGetHistoryRequest(*call.request);
  // Before the first bundle the store holds no seeded history yet.
  std::shared_ptr<const ModelBundle> bundle;
  if (status.ok()) status = CurrentBundle(&bundle);
  if (!status.ok()) {
    call.finish(ToGrpcStatus(status));
    return call.reactor;
  }
  auto answer = [this, request = call.request, response = call.response, bundle,
                 finish = call.finish] {
    const HistoryResult stored = store_->ReadHistory(request->user_id(), HistoryLimit(*request));
    // A part of a history is no answer to "what is stored".
    if (stored.degraded) {
      finish(ToGrpcStatus(absl::UnavailableError("user store unavailable: " + stored.note)));
      return;
    }
    for (const UserEvent& e : stored.events) {
      v1::StoredEvent* h = response->add_events();
      h->set_item_id(e.item_id);
      h->set_timestamp_s(e.timestamp_s);
      h->set_weight(e.weight);
      h->set_event(e.event);
      if (auto i = bundle->catalogue.ids.Find(e.item_id)) {
        h->set_title(bundle->catalogue.titles[static_cast<size_t>(*i)]);
      }
    }
    finish(grpc::Status::OK);
  };
  if (!store_->reads_block()) {
    answer();
    return call.reactor;
  }
  // A store read over the network: off the callback thread, like DeleteUser.
  if (!feedback_pool_.TrySchedule(answer)) {
    metrics_.CountRejected();
    call.finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "feedback queue full"));
  }
  return call.reactor;
}

grpc::ServerUnaryReactor* GatewayService::DeleteUser(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* raw_request,
                                                     grpc::ByteBuffer* raw_response) {
  auto call = StartRawCall<v1::DeleteUserRequest, v1::DeleteUserResponse>(
      ctx, server_metrics_, "DeleteUser", *raw_request, raw_response, delete_limits_);
  grpc::ServerUnaryReactor* reactor = call.reactor;
  const Done finish = call.finish;
  const v1::DeleteUserRequest* request = call.request.get();
  std::shared_ptr<v1::DeleteUserResponse> response = call.response;
  absl::Status status = call.parsed;
  if (status.ok()) status = ValidateDeleteUserRequest(*request);
  // The seed lands with the first bundle; erasing before it would be undone.
  std::shared_ptr<const ModelBundle> bundle;
  if (status.ok()) status = CurrentBundle(&bundle);
  if (!status.ok()) {
    finish(ToGrpcStatus(status));
    return reactor;
  }
  const std::string user = request->user_id();
  // The durable erasure waits for an fsync: run it off the callback thread.
  const bool queued = feedback_pool_.TrySchedule([this, user, response, finish] {
    int64_t erased = 0;
    absl::StatusOr<uint64_t> seq = store_->EraseUser(user, &erased);
    if (seq.ok()) {
      response->set_sequence(*seq);
      response->set_erased_events(erased);
      LOG(INFO) << "erased user '" << user << "': " << erased << " events, sequence " << *seq;
    }
    metrics_.RecordStore(*store_);
    finish(seq.ok() ? grpc::Status::OK : ToGrpcStatus(seq.status()));
  });
  if (!queued) {
    metrics_.CountRejected();
    finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "feedback queue full"));
  }
  return reactor;
}

// Ask: validate, then retrieval's Search with the question (its own deadline,
// as Search), then the extractive answer on the completion thread (cheap: a
// few dozen candidates), then, with a generator, the blocking HTTP call on
// ask_pool_. Everything the call needs lives in one shared AskCall, so no
// per-call state is touched after a step that may finish the call has started.
grpc::ServerUnaryReactor* GatewayService::Ask(grpc::CallbackServerContext* ctx,
                                              const grpc::ByteBuffer* raw_request,
                                              grpc::ByteBuffer* raw_response) {
  const CallEnd call = StartCall(ctx, server_metrics_, "Ask");
  struct AskCall {
    v1::AskRequest request;
    v1::SearchRequest search_request;
    v1::SearchResponse search_response;
    v1::AskResponse response;
    std::shared_ptr<const ModelBundle> bundle;
    std::shared_ptr<grpc::ClientContext> client;
  };
  auto state = std::make_shared<AskCall>();
  absl::Status status = CheckWireLimits(*raw_request, ask_limits_);
  // The bytes are well-formed protobuf (checked above), so a request that
  // still does not parse has a question protobuf refused as not UTF-8.
  if (status.ok() && !ParseRequest(*raw_request, &state->request).ok()) {
    status = absl::InvalidArgumentError("undecodable request: question must be valid UTF-8");
  }
  if (status.ok()) status = ValidateAskRequest(state->request);
  if (status.ok()) status = CurrentBundle(&state->bundle);
  // Refused before any work when no generator thread would take the call.
  if (status.ok() && ask_pool_ != nullptr && ask_pool_->queued() >= ask_pool_->queue_capacity()) {
    metrics_.CountRejected();
    status = absl::ResourceExhaustedError("Ask generator queue full");
  }
  if (!status.ok()) {
    call.finish(ToGrpcStatus(status));
    return call.reactor;
  }
  const std::optional<absl::Time> caller_deadline = CallerDeadlineOf(*ctx);
  state->search_request.set_query(state->request.question());
  state->search_request.set_k(AskCandidateCount(AskK(state->request), options_.ask));
  state->client = LookupContext(*ctx);  // Search's deadline, request id, trace
  auto answer = [this, ctx, state, finish = call.finish, raw_response] {
    AnnotateCall(*ctx, "mode", state->response.mode());
    finish(ToGrpcStatus(SerializeResponse(state->response, raw_response)));
  };
  retrieval_->async()->Search(
      state->client.get(), &state->search_request, &state->search_response,
      [this, state, caller_deadline, answer, finish = call.finish](grpc::Status s) {
        if (!s.ok()) {
          finish(grpc::Status(s.error_code(), "retrieval Search: " + s.error_message()));
          return;
        }
        AnswerExtractively(*state->bundle, state->request, state->search_response, options_.ask,
                           &state->response);
        // Nothing cited, nothing to generate from: the extractive answer says so.
        if (ask_generator_ == nullptr || state->response.citations_size() == 0) {
          answer();
          return;
        }
        absl::Time deadline = absl::Now() + options_.ask_generator_timeout;
        if (caller_deadline) {
          deadline =
              std::min(deadline, PlanLookupDeadline(absl::Now(), caller_deadline, options_.budget));
        }
        const bool queued = ask_pool_->TrySchedule([this, state, deadline, answer] {
          std::vector<GeneratorPassage> passages;
          for (const v1::AskCitation& c : state->response.citations()) {
            const std::optional<int32_t> item = state->bundle->catalogue.ids.Find(c.item_id());
            passages.push_back(
                {c.item_id(), c.title(), item ? ItemText(state->bundle->catalogue, *item) : ""});
          }
          const GeneratorResult r =
              ask_generator_->Generate(state->request.question(), passages, deadline);
          metrics_.CountAskGenerator(r.outcome);
          if (r.outcome == GeneratorOutcome::kOk) {
            state->response.set_answer(r.answer);
            state->response.set_mode(kAskModeGenerator);
          } else {
            state->response.add_notes(absl::StrCat("generator failed (",
                                                   GeneratorOutcomeName(r.outcome), ": ", r.error,
                                                   "); the answer is extractive"));
          }
          answer();
        });
        if (!queued) {
          metrics_.CountRejected();
          finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "Ask generator queue full"));
        }
      });
  // Nothing after this line: the reactor may already be finished.
  return call.reactor;
}

}  // namespace recsys::gateway
