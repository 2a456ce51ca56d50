#include "gateway/gateway_service.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fingerprint.h"
#include "common/log.h"
#include "common/server/rank_signals.h"
#include "common/server/grpc_status.h"
#include "common/topk.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace recsys::gateway {
namespace {

constexpr char kService[] = "recsys.v1.Recommender";
constexpr size_t kMaxIdBytes = 256;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

const char* PathName(v1::Path p) {
  switch (p) {
    case v1::PATH_FULL: return "full";
    case v1::PATH_RETRIEVAL_ONLY: return "retrieval_only";
    case v1::PATH_TRENDING_FALLBACK: return "trending_fallback";
    case v1::PATH_COLD_START: return "cold_start";
    default: return "unspecified";
  }
}

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

// The caller's deadline, or nullopt when it sent none (gRPC reports "infinite").
std::optional<absl::Time> CallerDeadline(const grpc::CallbackServerContext& ctx) {
  const absl::Time raw = absl::FromChrono(ctx.deadline());
  if (raw > absl::Now() + absl::Hours(24 * 365)) return std::nullopt;
  return raw;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeBackendChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // Round-robin over every resolved address; retry UNAVAILABLE once, quickly
  // (the call's deadline still bounds the total).
  args.SetServiceConfigJSON(R"json({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
      "name": [{"service": "recsys.v1.Retrieval"}, {"service": "recsys.v1.Ranking"}],
      "retryPolicy": {
        "maxAttempts": 2,
        "initialBackoff": "0.002s",
        "maxBackoff": "0.02s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]
      }
    }]
  })json");
  // Ping an idle connection every 20 s (servers accept pings >= 10 s apart) and
  // drop it if no ack within 5 s, so a dead backend is noticed between calls.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  // Reconnect quickly after a backend restarts (ms).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

GatewayService::GatewayService(GatewayOptions options, BundleHolder* bundles, UserStore* store,
                               std::shared_ptr<grpc::Channel> retrieval,
                               std::shared_ptr<grpc::Channel> ranking, ServerMetrics* metrics)
    : options_(options),
      bundles_(bundles),
      store_(store),
      retrieval_(v1::Retrieval::NewStub(retrieval)),
      ranking_(v1::Ranking::NewStub(ranking)),
      metrics_(metrics),
      feedback_pool_(options.feedback_workers, options.feedback_queue),
      cache_(options.cache) {
  SetMessageAllocatorFor_Recommend(&recommend_allocator_);
  if (metrics_ != nullptr) {
    auto& r = metrics_->registry();
    answers_ = &prometheus::BuildCounter()
                    .Name("recsys_gateway_answers_total")
                    .Help("Recommend answers by the path that produced them")
                    .Register(r);
    degraded_ = &prometheus::BuildCounter()
                     .Name("recsys_gateway_degraded_total")
                     .Help("Degraded Recommend answers by reason (stage and status code)")
                     .Register(r);
    stage_seconds_ = &prometheus::BuildHistogram()
                          .Name("recsys_gateway_stage_seconds")
                          .Help("Time spent per Recommend stage (retrieval, ranking, total)")
                          .Register(r);
    auto& cache = prometheus::BuildCounter()
                      .Name("recsys_gateway_cache_lookups_total")
                      .Help("Recommend answer-cache lookups by result (hit, miss); requests "
                            "that cannot be cached (debug, cold start, cache off) are not counted")
                      .Register(r);
    cache_hits_ = &cache.Add({{"result", "hit"}});
    cache_misses_ = &cache.Add({{"result", "miss"}});
    rejected_ = &prometheus::BuildCounter()
                     .Name("recsys_gateway_rejected_total")
                     .Help("Calls refused by admission control (RESOURCE_EXHAUSTED)")
                     .Register(r)
                     .Add({});
    inflight_gauge_ = &prometheus::BuildGauge()
                           .Name("recsys_gateway_inflight")
                           .Help("Recommend calls in flight")
                           .Register(r)
                           .Add({});
    auto& wal = prometheus::BuildGauge()
                    .Name("recsys_wal")
                    .Help("User-store write-ahead log figures (appends, fsyncs, last fsync seconds)")
                    .Register(r);
    wal_appends_ = &wal.Add({{"figure", "appends"}});
    wal_fsyncs_ = &wal.Add({{"figure", "fsyncs"}});
    wal_last_fsync_seconds_ = &wal.Add({{"figure", "last_fsync_seconds"}});
    feedback_durable_seconds_ =
        &prometheus::BuildHistogram()
             .Name("recsys_wal_durable_seconds")
             .Help("Feedback: time from receipt until the event is durable (fsynced)")
             .Register(r)
             .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.002, 0.005,
                                                              0.01, 0.02, 0.05, 0.1, 0.5, 1});
  }
}

GatewayService::~GatewayService() {
  if (cache_.enabled()) {
    LOG(INFO) << "answer cache: " << cache_.size() << " answers in "
              << static_cast<double>(cache_.bytes()) / (1 << 20) << " MiB";
  }
}

void GatewayService::CountAnswer(v1::Path path, bool degraded, const std::string& reason) {
  if (answers_ == nullptr) return;
  answers_->Add({{"path", PathName(path)}}).Increment();
  if (degraded) degraded_->Add({{"reason", reason}}).Increment();
}

void GatewayService::ObserveStage(const char* stage, absl::Duration d) {
  if (stage_seconds_ == nullptr) return;
  stage_seconds_
      ->Add({{"stage", stage}},
            prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                    0.1, 0.25, 0.5, 1, 5})
      .Observe(absl::ToDoubleSeconds(d));
}

void GatewayService::RecordVersions(const std::string& retrieval, const std::string& ranking) {
  absl::MutexLock lock(&versions_mu_);
  if (!retrieval.empty()) retrieval_version_ = retrieval;
  if (!ranking.empty()) ranking_version_ = ranking;
}

void GatewayService::UpdateStoreMetrics() {
  if (wal_appends_ == nullptr) return;
  const UserStoreStats s = store_->stats();
  wal_appends_->Set(static_cast<double>(s.appends));
  wal_fsyncs_->Set(static_cast<double>(s.fsyncs));
  wal_last_fsync_seconds_->Set(static_cast<double>(s.last_fsync_micros) / 1e6);
}

void GatewayService::FillItem(const ModelBundle& bundle, ItemIndex item, float score,
                              v1::ScoredItem* out) const {
  out->set_item_id(bundle.catalogue.ids.Name(item));
  out->set_score(score);
  out->set_title(bundle.catalogue.titles[item]);
  for (int32_t c : bundle.catalogue.categories[item]) {
    out->add_categories(bundle.catalogue.category_names[c]);
  }
}

void GatewayService::FillTrending(const ModelBundle& bundle, int64_t as_of_s,
                                  const absl::flat_hash_set<ItemIndex>& exclude,
                                  const google::protobuf::RepeatedPtrField<std::string>& categories,
                                  int k, v1::RecommendResponse* response) const {
  std::vector<float> scores;
  bundle.trending.ScoresAsOf(as_of_s > 0 ? as_of_s : bundle.trending.latest_time(), &scores);
  std::vector<ScoredIndex> top;
  if (!categories.empty()) {
    absl::flat_hash_set<int32_t> wanted;
    for (const std::string& name : categories) {
      for (size_t c = 0; c < bundle.catalogue.category_names.size(); ++c) {
        if (bundle.catalogue.category_names[c] == name) wanted.insert(static_cast<int32_t>(c));
      }
    }
    auto in_category = [&](ItemIndex i) {
      for (int32_t c : bundle.catalogue.categories[i]) {
        if (wanted.contains(c)) return true;
      }
      return false;
    };
    top = TopKDense(scores, k, [&](ItemIndex i) { return exclude.contains(i) || !in_category(i); });
  }
  if (static_cast<int>(top.size()) < k) {
    absl::flat_hash_set<ItemIndex> taken;
    for (const auto& s : top) taken.insert(s.item);
    for (const auto& s : TopKDense(scores, k, [&](ItemIndex i) {
           return exclude.contains(i) || taken.contains(i);
         })) {
      if (static_cast<int>(top.size()) >= k) break;
      top.push_back(s);
    }
  }
  for (const auto& s : top) FillItem(bundle, s.item, s.score, response->add_items());
}

// One Recommend call: owns every piece of state its downstream calls use and
// is kept alive by the completion callbacks (shared_ptr), so nothing is touched
// after a call is handed to gRPC except from that call's completion.
class RecommendCall : public std::enable_shared_from_this<RecommendCall> {
 public:
  RecommendCall(GatewayService* service, grpc::CallbackServerContext* server_ctx,
                const v1::RecommendRequest* request, v1::RecommendResponse* response,
                grpc::ServerUnaryReactor* reactor, std::shared_ptr<const ModelBundle> bundle,
                StageDeadlines deadlines)
      : service_(service),
        server_ctx_(server_ctx),
        request_(request),
        response_(response),
        reactor_(reactor),
        bundle_(std::move(bundle)),
        deadlines_(deadlines),
        start_(absl::Now()),
        recorder_(service->metrics_, kService, "Recommend") {}

  // Builds the user context; answers cold start directly or starts retrieval.
  void Start(std::vector<UserEvent> stored) {
    v1::UserContext* user = retrieve_request_.mutable_user();
    user->set_user_id(request_->user_id());
    user->set_as_of_s(request_->as_of_s());
    for (const std::string& c : request_->context_categories()) user->add_categories(c);
    if (!request_->ignore_stored_history()) {
      for (const UserEvent& e : stored) {
        v1::HistoryEvent* h = user->add_history();
        h->set_item_id(e.item_id);
        h->set_timestamp_s(e.timestamp_s);
        h->set_weight(e.weight);
      }
    }
    for (const v1::HistoryEvent& e : request_->extra_history()) *user->add_history() = e;
    // Keep the most recent events within the downstream limit.
    const int excess = user->history_size() - service_->options_.max_history;
    if (excess > 0) user->mutable_history()->DeleteSubrange(0, excess);
    for (const v1::HistoryEvent& e : user->history()) {
      if (auto i = bundle_->catalogue.ids.Find(e.item_id())) exclude_.insert(*i);
    }
    for (const std::string& id : request_->exclude_item_ids()) {
      *retrieve_request_.add_exclude_item_ids() = id;
      if (auto i = bundle_->catalogue.ids.Find(id)) exclude_.insert(*i);
    }
    if (!user->history().empty() && service_->cache_.enabled() && !request_->debug()) {
      // Everything the answer depends on besides the user id (compared verbatim).
      Fingerprint64 f;
      f.Value<uint64_t>(UserFingerprint(*user))
          .String(bundle_->manifest.version())
          .Value<int32_t>(request_->k());
      f.Value<int32_t>(request_->exclude_item_ids_size());
      for (const std::string& id : request_->exclude_item_ids()) f.String(id);
      f.Value<int32_t>(request_->context_categories_size());
      for (const std::string& c : request_->context_categories()) f.String(c);
      cache_key_ = ResponseCacheKey{request_->user_id(), f.value()};
      use_cache_ = true;
      if (service_->cache_.Lookup(cache_key_, absl::Now(), response_)) {
        if (service_->cache_hits_) service_->cache_hits_->Increment();
        Finish(v1::PATH_FULL, "");
        return;
      }
      if (service_->cache_misses_) service_->cache_misses_->Increment();
    }
    if (user->history().empty()) {
      service_->FillTrending(*bundle_, request_->as_of_s(), exclude_,
                             request_->context_categories(), request_->k(), response_);
      Finish(v1::PATH_COLD_START, "");
      return;
    }
    // Retrieval computes the ranking signals from the user state it already
    // holds, so ranking need not rebuild it (checked by RankSignals).
    retrieve_request_.set_with_signals(true);
    retrieve_ctx_ = grpc::ClientContext::FromCallbackServerContext(*server_ctx_);
    retrieve_ctx_->set_deadline(absl::ToChronoTime(deadlines_.retrieval));
    retrieval_start_ = absl::Now();
    auto self = shared_from_this();
    service_->retrieval_->async()->Retrieve(
        retrieve_ctx_.get(), &retrieve_request_, &retrieve_response_,
        [self](grpc::Status status) { self->OnRetrieved(std::move(status)); });
    // Nothing after this line: OnRetrieved may already be running.
  }

 private:
  void OnRetrieved(grpc::Status status) {
    retrieval_time_ = absl::Now() - retrieval_start_;
    service_->ObserveStage("retrieval", retrieval_time_);
    if (!status.ok() || retrieve_response_.candidates().empty()) {
      const std::string reason =
          status.ok() ? "retrieval:EMPTY" : absl::StrCat("retrieval:", GrpcCodeName(status.error_code()));
      response_->add_notes(status.ok() ? "retrieval returned no candidates"
                                       : absl::StrCat("retrieval failed: ", reason, " ",
                                                      status.error_message()));
      service_->FillTrending(*bundle_, request_->as_of_s(), exclude_,
                             request_->context_categories(), request_->k(), response_);
      Finish(v1::PATH_TRENDING_FALLBACK, reason);
      return;
    }
    retrieval_version_ = retrieve_response_.model_version();
    if (!RankingWorthStarting(absl::Now(), deadlines_, service_->options_.budget)) {
      response_->add_notes("ranking skipped: budget spent by retrieval");
      ServeRetrievalOrder();
      Finish(v1::PATH_RETRIEVAL_ONLY, "ranking:BUDGET");
      return;
    }
    // The retrieve request is finished with: move its user context over.
    rank_request_.mutable_user()->Swap(retrieve_request_.mutable_user());
    rank_request_.mutable_candidates()->Swap(retrieve_response_.mutable_candidates());
    if (retrieve_response_.has_signals()) {
      rank_request_.mutable_signals()->Swap(retrieve_response_.mutable_signals());
    }
    rank_request_.set_k(request_->k());
    for (const std::string& id : request_->exclude_item_ids()) *rank_request_.add_exclude_item_ids() = id;
    rank_ctx_ = grpc::ClientContext::FromCallbackServerContext(*server_ctx_);
    rank_ctx_->set_deadline(absl::ToChronoTime(deadlines_.ranking));
    ranking_start_ = absl::Now();
    auto self = shared_from_this();
    service_->ranking_->async()->Rank(
        rank_ctx_.get(), &rank_request_, &rank_response_,
        [self](grpc::Status status) { self->OnRanked(std::move(status)); });
    // Nothing after this line: OnRanked may already be running.
  }

  void OnRanked(grpc::Status status) {
    ranking_time_ = absl::Now() - ranking_start_;
    service_->ObserveStage("ranking", ranking_time_);
    if (!status.ok()) {
      const std::string reason = absl::StrCat("ranking:", GrpcCodeName(status.error_code()));
      response_->add_notes(absl::StrCat("ranking failed: ", reason, " ", status.error_message()));
      // The candidates moved into the rank request; serve them in pool order.
      rank_request_.mutable_candidates()->Swap(retrieve_response_.mutable_candidates());
      ServeRetrievalOrder();
      Finish(v1::PATH_RETRIEVAL_ONLY, reason);
      return;
    }
    ranking_version_ = rank_response_.model_version();
    for (v1::ScoredItem& item : *rank_response_.mutable_items()) {
      v1::ScoredItem* out = response_->add_items();
      if (auto i = bundle_->catalogue.ids.Find(item.item_id())) {
        service_->FillItem(*bundle_, *i, item.score(), out);
      } else {
        out->Swap(&item);
      }
    }
    Finish(v1::PATH_FULL, "");
  }

  // The pooled candidates in retrieval order (best pooled rank first).
  void ServeRetrievalOrder() {
    int n = 0;
    for (const v1::Candidate& c : retrieve_response_.candidates()) {
      if (n >= request_->k()) break;
      v1::ScoredItem* out = response_->add_items();
      const float score = 1.0f / static_cast<float>(n + 1);
      if (auto i = bundle_->catalogue.ids.Find(c.item_id())) {
        service_->FillItem(*bundle_, *i, score, out);
      } else {
        out->set_item_id(c.item_id());
        out->set_score(score);
      }
      ++n;
    }
  }

  void Finish(v1::Path path, const std::string& degraded_reason) {
    const bool degraded = !degraded_reason.empty();
    response_->set_path(path);
    response_->set_degraded(degraded);
    response_->set_model_version(bundle_->manifest.version());
    service_->RecordVersions(retrieval_version_, ranking_version_);
    const absl::Duration total = absl::Now() - start_;
    service_->ObserveStage("total", total);
    if (request_->debug()) {
      auto add = [&](const char* stage, absl::Duration d) {
        v1::StageTiming* t = response_->add_timings();
        t->set_stage(stage);
        t->set_micros(absl::ToInt64Microseconds(d));
      };
      if (retrieval_time_ > absl::ZeroDuration()) add("retrieval", retrieval_time_);
      if (ranking_time_ > absl::ZeroDuration()) add("ranking", ranking_time_);
      add("total", total);
      if (!retrieval_version_.empty()) response_->add_notes("retrieval model " + retrieval_version_);
      if (!ranking_version_.empty()) response_->add_notes("ranking model " + ranking_version_);
    }
    // Only complete answers are cached: full path, every retrieval source ran,
    // both stages on the gateway's model version (see response_cache.h).
    if (use_cache_ && path == v1::PATH_FULL && !degraded && !ranking_version_.empty() &&
        retrieve_response_.skipped_size() == 0 &&
        retrieval_version_ == bundle_->manifest.version() &&
        ranking_version_ == bundle_->manifest.version()) {
      service_->cache_.Insert(cache_key_, absl::Now(), *response_);
    }
    service_->CountAnswer(path, degraded, degraded_reason);
    service_->inflight_.fetch_sub(1);
    if (service_->inflight_gauge_) service_->inflight_gauge_->Decrement();
    recorder_.Finish(grpc::Status::OK);
    reactor_->Finish(grpc::Status::OK);
    // The request and response belong to gRPC from here on.
  }

  GatewayService* const service_;
  grpc::CallbackServerContext* const server_ctx_;
  const v1::RecommendRequest* const request_;
  v1::RecommendResponse* const response_;
  grpc::ServerUnaryReactor* const reactor_;
  const std::shared_ptr<const ModelBundle> bundle_;
  const StageDeadlines deadlines_;
  const absl::Time start_;
  RpcRecorder recorder_;
  absl::flat_hash_set<ItemIndex> exclude_;

  // The downstream messages (hundreds of candidates) live on one arena, freed
  // at once with the call instead of message by message.
  static google::protobuf::ArenaOptions ArenaOptionsForCall() {
    google::protobuf::ArenaOptions o;
    o.start_block_size = 64 * 1024;
    o.max_block_size = 256 * 1024;
    return o;
  }
  google::protobuf::Arena arena_{ArenaOptionsForCall()};
  std::unique_ptr<grpc::ClientContext> retrieve_ctx_;
  v1::RetrieveRequest& retrieve_request_ =
      *google::protobuf::Arena::CreateMessage<v1::RetrieveRequest>(&arena_);
  v1::RetrieveResponse& retrieve_response_ =
      *google::protobuf::Arena::CreateMessage<v1::RetrieveResponse>(&arena_);
  std::unique_ptr<grpc::ClientContext> rank_ctx_;
  v1::RankRequest& rank_request_ = *google::protobuf::Arena::CreateMessage<v1::RankRequest>(&arena_);
  v1::RankResponse& rank_response_ =
      *google::protobuf::Arena::CreateMessage<v1::RankResponse>(&arena_);
  absl::Time retrieval_start_, ranking_start_;
  absl::Duration retrieval_time_ = absl::ZeroDuration(), ranking_time_ = absl::ZeroDuration();
  std::string retrieval_version_, ranking_version_;
  bool use_cache_ = false;
  ResponseCacheKey cache_key_;
};

grpc::ServerUnaryReactor* GatewayService::Recommend(grpc::CallbackServerContext* ctx,
                                                    const v1::RecommendRequest* request,
                                                    v1::RecommendResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto refuse = [&](grpc::Status status) {
    RpcRecorder rec(metrics_, kService, "Recommend");
    rec.Finish(status);
    reactor->Finish(status);
    return reactor;
  };
  if (request->user_id().empty() || request->user_id().size() > kMaxIdBytes) {
    return refuse(Invalid("user_id must be 1..256 bytes"));
  }
  if (request->k() < 1 || request->k() > options_.max_k) {
    return refuse(Invalid(absl::StrCat("k must be in 1..", options_.max_k, ", got ", request->k())));
  }
  if (request->exclude_item_ids_size() > options_.max_exclusions) {
    return refuse(Invalid(absl::StrCat("at most ", options_.max_exclusions, " exclude_item_ids")));
  }
  if (request->extra_history_size() > options_.max_history) {
    return refuse(Invalid(absl::StrCat("at most ", options_.max_history, " extra_history events")));
  }
  for (const v1::HistoryEvent& e : request->extra_history()) {
    if (e.item_id().empty() || e.item_id().size() > kMaxIdBytes) {
      return refuse(Invalid("extra_history item_id must be 1..256 bytes"));
    }
    if (!std::isfinite(e.weight()) || e.weight() < 0) {
      return refuse(Invalid("extra_history weight must be finite and >= 0"));
    }
  }
  if (request->as_of_s() < 0) return refuse(Invalid("as_of_s must be >= 0"));
  std::shared_ptr<const ModelBundle> bundle = bundles_->Current();
  if (bundle == nullptr) {
    return refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no model bundle loaded yet"));
  }
  // Admission control: refuse at once rather than queue without bound.
  if (inflight_.fetch_add(1) >= options_.max_inflight) {
    inflight_.fetch_sub(1);
    if (rejected_) rejected_->Increment();
    return refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "gateway overloaded: too many Recommend calls in flight"));
  }
  if (inflight_gauge_) inflight_gauge_->Increment();
  const StageDeadlines deadlines = PlanBudget(absl::Now(), CallerDeadline(*ctx), options_.budget);
  std::vector<UserEvent> stored;
  if (!request->ignore_stored_history()) {
    stored = store_->History(request->user_id(), static_cast<size_t>(options_.max_history));
  }
  auto call = std::make_shared<RecommendCall>(this, ctx, request, response, reactor,
                                              std::move(bundle), deadlines);
  call->Start(std::move(stored));
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::Feedback(grpc::CallbackServerContext* ctx,
                                                   const v1::FeedbackRequest* request,
                                                   v1::FeedbackResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto rec = std::make_shared<RpcRecorder>(metrics_, kService, "Feedback");
  auto finish = [reactor, rec](grpc::Status status) {
    rec->Finish(status);
    reactor->Finish(status);
  };
  if (request->user_id().empty() || request->user_id().size() > kMaxIdBytes) {
    finish(Invalid("user_id must be 1..256 bytes"));
    return reactor;
  }
  if (request->item_id().empty() || request->item_id().size() > kMaxIdBytes) {
    finish(Invalid("item_id must be 1..256 bytes"));
    return reactor;
  }
  if (request->event().size() > 64) {
    finish(Invalid("event must be at most 64 bytes"));
    return reactor;
  }
  if (!std::isfinite(request->weight()) || request->weight() < 0) {
    finish(Invalid("weight must be finite and >= 0"));
    return reactor;
  }
  if (request->timestamp_s() < 0) {
    finish(Invalid("timestamp_s must be >= 0"));
    return reactor;
  }
  std::shared_ptr<const ModelBundle> bundle = bundles_->Current();
  if (bundle == nullptr) {
    finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no model bundle loaded yet"));
    return reactor;
  }
  if (!bundle->catalogue.ids.Find(request->item_id())) {
    finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("unknown item_id '", request->item_id(), "'")));
    return reactor;
  }
  UserEvent event;
  event.item_id = request->item_id();
  event.timestamp_s = request->timestamp_s() > 0 ? request->timestamp_s() : NowSeconds();
  event.weight = request->weight() > 0 ? request->weight() : 1.0f;
  event.event = request->event().empty() ? "click" : request->event();
  const std::string user = request->user_id();
  const absl::Time received = absl::Now();
  // The durable append waits for an fsync: run it off the callback thread.
  const bool queued = feedback_pool_.TrySchedule([this, user, event, response, finish, received] {
    absl::StatusOr<uint64_t> seq = store_->Append(user, event);
    if (seq.ok()) {
      response->set_sequence(*seq);
      if (feedback_durable_seconds_) {
        feedback_durable_seconds_->Observe(absl::ToDoubleSeconds(absl::Now() - received));
      }
    }
    UpdateStoreMetrics();
    finish(seq.ok() ? grpc::Status::OK : ToGrpcStatus(seq.status()));
  });
  if (!queued) {
    if (rejected_) rejected_->Increment();
    finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "feedback queue full"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::SimilarItems(grpc::CallbackServerContext* ctx,
                                                       const v1::SimilarItemsRequest* request,
                                                       v1::SimilarItemsResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto rec = std::make_shared<RpcRecorder>(metrics_, kService, "SimilarItems");
  // Retrieval validates the request; its status is passed through.
  auto client = std::shared_ptr<grpc::ClientContext>(grpc::ClientContext::FromCallbackServerContext(*ctx));
  client->set_deadline(
      absl::ToChronoTime(PlanBudget(absl::Now(), CallerDeadline(*ctx), options_.budget).ranking));
  retrieval_->async()->SimilarItems(client.get(), request, response,
                                    [reactor, rec, client](grpc::Status status) {
                                      rec->Finish(status);
                                      reactor->Finish(status);
                                    });
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::Search(grpc::CallbackServerContext* ctx,
                                                 const v1::SearchRequest* request,
                                                 v1::SearchResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto rec = std::make_shared<RpcRecorder>(metrics_, kService, "Search");
  auto client = std::shared_ptr<grpc::ClientContext>(grpc::ClientContext::FromCallbackServerContext(*ctx));
  client->set_deadline(
      absl::ToChronoTime(PlanBudget(absl::Now(), CallerDeadline(*ctx), options_.budget).ranking));
  retrieval_->async()->Search(client.get(), request, response,
                              [reactor, rec, client](grpc::Status status) {
                                rec->Finish(status);
                                reactor->Finish(status);
                              });
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::GetModelInfo(grpc::CallbackServerContext* ctx,
                                                       const v1::GetModelInfoRequest* request,
                                                       v1::GetModelInfoResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  RpcRecorder rec(metrics_, kService, "GetModelInfo");
  std::shared_ptr<const ModelBundle> bundle = bundles_->Current();
  if (bundle == nullptr) {
    const grpc::Status s(grpc::StatusCode::UNAVAILABLE, "no model bundle loaded yet");
    rec.Finish(s);
    reactor->Finish(s);
    return reactor;
  }
  response->set_model_name(bundle->manifest.name());
  response->set_model_version(bundle->manifest.version());
  {
    absl::MutexLock lock(&versions_mu_);
    response->set_retrieval_version(retrieval_version_);
    response->set_ranking_version(ranking_version_);
  }
  response->set_num_items(bundle->num_items());
  response->set_num_users(store_->num_users());
  v1::BundleManifest summary = bundle->manifest;
  summary.clear_files();
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  if (google::protobuf::util::MessageToJsonString(summary, &json, print).ok()) {
    response->set_manifest_json(json);
  }
  rec.Finish(grpc::Status::OK);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::GetHistory(grpc::CallbackServerContext* ctx,
                                                     const v1::GetHistoryRequest* request,
                                                     v1::GetHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  RpcRecorder rec(metrics_, kService, "GetHistory");
  grpc::Status status = grpc::Status::OK;
  if (request->user_id().empty() || request->user_id().size() > kMaxIdBytes) {
    status = Invalid("user_id must be 1..256 bytes");
  } else if (request->max_events() < 0 || request->max_events() > 10000) {
    status = Invalid("max_events must be in 0..10000");
  } else {
    const size_t max = request->max_events() == 0 ? 100 : static_cast<size_t>(request->max_events());
    for (const UserEvent& e : store_->History(request->user_id(), max)) {
      v1::HistoryEvent* h = response->add_events();
      h->set_item_id(e.item_id);
      h->set_timestamp_s(e.timestamp_s);
      h->set_weight(e.weight);
    }
  }
  rec.Finish(status);
  reactor->Finish(status);
  return reactor;
}

}  // namespace recsys::gateway
