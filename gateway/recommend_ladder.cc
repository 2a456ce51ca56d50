#include "gateway/recommend_ladder.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/grpc_status.h"
#include "common/server/request_context.h"
#include "gateway/answer_items.h"
#include "gateway/cache_key.h"
#include "google/protobuf/arena.h"
#include "grpcpp/client_context.h"

namespace recsys::gateway {
namespace {

// What one call uses of its ladder; nothing here is owned by the call, and
// everything outlives it (the ladder outlives the gRPC server's calls).
struct CallDeps {
  const RecommendLadderOptions* options;
  v1::Retrieval::Stub* retrieval;
  v1::Ranking::Stub* ranking;
  ResponseCache* cache;  // null = no caching
  GatewayMetrics* metrics;
  LatestBackendVersions* versions;
};

// A downstream call's context: a child of the caller's (its deadline and
// cancellation propagate) when there is one.
std::unique_ptr<grpc::ClientContext> DownstreamContext(grpc::CallbackServerContext* parent) {
  if (parent == nullptr) return std::make_unique<grpc::ClientContext>();
  std::unique_ptr<grpc::ClientContext> child =
      grpc::ClientContext::FromCallbackServerContext(*parent);
  AddDownstreamMetadata(*parent, child.get());  // request id, traceparent
  return child;
}

// One Recommend call: owns every piece of state its downstream calls use and
// is kept alive by the completion callbacks (shared_ptr), so nothing is touched
// after a call is handed to gRPC except from that call's completion.
class RecommendCall : public std::enable_shared_from_this<RecommendCall> {
 public:
  RecommendCall(CallDeps deps, grpc::CallbackServerContext* parent,
                const v1::RecommendRequest* request, v1::RecommendResponse* response,
                std::shared_ptr<const ModelBundle> bundle, StageDeadlines deadlines,
                absl::AnyInvocable<void()> done)
      : deps_(deps),
        parent_(parent),
        request_(request),
        response_(response),
        bundle_(std::move(bundle)),
        deadlines_(deadlines),
        done_(std::move(done)),
        start_(Now()) {}

  // Builds the user context from the stored history (`stored`, empty with
  // ignore_stored_history); answers from the cache or cold start directly, or
  // starts retrieval. `busy_reason`: the store could not be read at all.
  void Start(HistoryResult history, const char* busy_reason = nullptr) {
    std::vector<UserEvent>& stored = history.events;
    if (history.degraded) {
      store_reason_ = busy_reason != nullptr ? busy_reason : kUserStoreUnavailableReason;
      response_->add_notes(absl::StrCat("user store unavailable: ", history.note,
                                        "; the answer may miss the user's recent feedback"));
    } else if (stored.empty() && !request_->ignore_stored_history()) {
      response_->add_notes(kUnknownUserNote);
    }
    v1::UserContext* user = retrieve_request_.mutable_user();
    user->set_user_id(request_->user_id());
    user->set_as_of_s(request_->as_of_s());
    for (const std::string& c : request_->context_categories()) user->add_categories(c);
    // Negative feedback (weight < 0, e.g. dislike): an item whose latest
    // stored event is negative leaves the history and is excluded.
    absl::flat_hash_set<std::string> disliked;
    for (const UserEvent& e : stored) {
      if (e.weight < 0) {
        disliked.insert(e.item_id);
      } else {
        disliked.erase(e.item_id);
      }
    }
    for (const std::string& id : disliked) {
      *retrieve_request_.add_exclude_item_ids() = id;
      if (auto i = bundle_->catalogue.ids.Find(id)) exclude_.insert(*i);
    }
    for (const UserEvent& e : stored) {
      if (e.weight < 0 || disliked.contains(e.item_id)) continue;
      v1::HistoryEvent* h = user->add_history();
      h->set_item_id(e.item_id);
      h->set_timestamp_s(e.timestamp_s);
      h->set_weight(e.weight);
    }
    for (const v1::HistoryEvent& e : request_->extra_history()) *user->add_history() = e;
    // Keep the most recent events within the downstream limit.
    const int excess = user->history_size() - deps_.options->max_history;
    if (excess > 0) user->mutable_history()->DeleteSubrange(0, excess);
    for (const v1::HistoryEvent& e : user->history()) {
      if (auto i = bundle_->catalogue.ids.Find(e.item_id())) exclude_.insert(*i);
    }
    for (const std::string& id : request_->exclude_item_ids()) {
      *retrieve_request_.add_exclude_item_ids() = id;
      if (auto i = bundle_->catalogue.ids.Find(id)) exclude_.insert(*i);
    }
    // The cache key covers the history, not the exclusions negative feedback adds.
    if (!user->history().empty() && disliked.empty() && store_reason_ == nullptr &&
        deps_.cache != nullptr && deps_.cache->enabled() && !request_->debug()) {
      cache_key_ = RecommendCacheKey(*request_, *user, bundle_->manifest.version());
      use_cache_ = true;
      const bool hit = deps_.cache->Lookup(cache_key_, Now(), response_);
      deps_.metrics->CountCacheLookup(hit);
      if (hit) {
        Finish(v1::PATH_FULL, "");
        return;
      }
    }
    if (user->history().empty()) {
      FillTrending(*bundle_, request_->as_of_s(), exclude_, request_->context_categories(),
                   request_->k(), response_);
      Finish(v1::PATH_COLD_START, "");
      return;
    }
    // Retrieval computes the ranking signals from the user state it already
    // holds, so ranking need not rebuild it (checked by RankSignals).
    retrieve_request_.set_with_signals(true);
    retrieval_start_ = Now();
    auto self = shared_from_this();
    if (deps_.options->shards != nullptr) {
      grpc::CallbackServerContext* parent = parent_;
      deps_.options->shards->Retrieve(
          retrieve_request_, &retrieve_response_, deadlines_.retrieval,
          [parent] { return DownstreamContext(parent); },
          [self](grpc::Status status, ShardMergeOutcome outcome) {
            self->OnShardsRetrieved(std::move(status), std::move(outcome));
          });
      return;  // OnShardsRetrieved may already be running.
    }
    retrieve_ctx_ = DownstreamContext(parent_);
    retrieve_ctx_->set_deadline(absl::ToChronoTime(deadlines_.retrieval));
    deps_.retrieval->async()->Retrieve(
        retrieve_ctx_.get(), &retrieve_request_, &retrieve_response_,
        [self](grpc::Status status) { self->OnRetrieved(std::move(status)); });
    // Nothing after this line: OnRetrieved may already be running.
  }

 private:
  absl::Time Now() const {
    return deps_.options->clock ? deps_.options->clock() : absl::Now();
  }

  // Sharded retrieval: the shards left out make the answer degraded, with a
  // note each; the rest goes on as an unsharded answer would.
  void OnShardsRetrieved(grpc::Status status, ShardMergeOutcome outcome) {
    if (status.ok() && outcome.left_out > 0) {
      for (std::string& note : outcome.notes) response_->add_notes(std::move(note));
      shard_reason_ = std::move(outcome.degraded_reason);
    }
    OnRetrieved(std::move(status));
  }

  void OnRetrieved(grpc::Status status) {
    retrieval_time_ = Now() - retrieval_start_;
    deps_.metrics->ObserveStage("retrieval", retrieval_time_);
    if (!status.ok() || retrieve_response_.candidates().empty()) {
      const std::string reason =
          status.ok() ? "retrieval:EMPTY"
                      : absl::StrCat("retrieval:", GrpcCodeName(status.error_code()));
      response_->add_notes(status.ok() ? "retrieval returned no candidates"
                                       : absl::StrCat("retrieval failed: ", reason, " ",
                                                      status.error_message()));
      FillTrending(*bundle_, request_->as_of_s(), exclude_, request_->context_categories(),
                   request_->k(), response_);
      Finish(v1::PATH_TRENDING_FALLBACK, reason);
      return;
    }
    retrieval_version_ = retrieve_response_.model_version();
    if (!RankingWorthStarting(Now(), deadlines_, deps_.options->budget)) {
      response_->add_notes("ranking skipped: budget spent by retrieval");
      FillRetrievalOrder(*bundle_, retrieve_response_.candidates(), request_->k(), response_);
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
    for (const std::string& id : request_->exclude_item_ids()) {
      *rank_request_.add_exclude_item_ids() = id;
    }
    rank_ctx_ = DownstreamContext(parent_);
    rank_ctx_->set_deadline(absl::ToChronoTime(deadlines_.ranking));
    ranking_start_ = Now();
    auto self = shared_from_this();
    deps_.ranking->async()->Rank(
        rank_ctx_.get(), &rank_request_, &rank_response_,
        [self](grpc::Status status) { self->OnRanked(std::move(status)); });
    // Nothing after this line: OnRanked may already be running.
  }

  void OnRanked(grpc::Status status) {
    ranking_time_ = Now() - ranking_start_;
    deps_.metrics->ObserveStage("ranking", ranking_time_);
    if (!status.ok()) {
      const std::string reason = absl::StrCat("ranking:", GrpcCodeName(status.error_code()));
      response_->add_notes(absl::StrCat("ranking failed: ", reason, " ", status.error_message()));
      // The candidates moved into the rank request; serve them in pool order.
      rank_request_.mutable_candidates()->Swap(retrieve_response_.mutable_candidates());
      FillRetrievalOrder(*bundle_, retrieve_response_.candidates(), request_->k(), response_);
      Finish(v1::PATH_RETRIEVAL_ONLY, reason);
      return;
    }
    ranking_version_ = rank_response_.model_version();
    FillRanked(*bundle_, rank_response_.mutable_items(), response_);
    Finish(v1::PATH_FULL, "");
  }

  void Finish(v1::Path path, std::string degraded_reason) {
    // A stage's reason, when there is one, names the answer's degradation.
    if (degraded_reason.empty() && !shard_reason_.empty()) degraded_reason = shard_reason_;
    if (degraded_reason.empty() && store_reason_ != nullptr) degraded_reason = store_reason_;
    const bool degraded = !degraded_reason.empty();
    response_->set_path(path);
    response_->set_degraded(degraded);
    response_->set_model_version(bundle_->manifest.version());
    deps_.versions->Record(retrieval_version_, ranking_version_, absl::Now());
    const absl::Duration total = Now() - start_;
    deps_.metrics->ObserveStage("total", total);
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
      deps_.cache->Insert(cache_key_, Now(), *response_);
    }
    deps_.metrics->CountAnswer(path, degraded, degraded_reason);
    deps_.metrics->ObserveServedList(*bundle_, *response_);  // diversity, novelty, exposure
    if (parent_ != nullptr) {  // for the access log: "full", "cold_start", ...
      AnnotateCall(*parent_, "path", absl::AsciiStrToLower(v1::Path_Name(path).substr(5)));
      if (degraded) AnnotateCall(*parent_, "degraded_reason", degraded_reason);
    }
    done_();
    // The request and response belong to the caller from here on.
  }

  const CallDeps deps_;
  grpc::CallbackServerContext* const parent_;
  const v1::RecommendRequest* const request_;
  v1::RecommendResponse* const response_;
  const std::shared_ptr<const ModelBundle> bundle_;
  const StageDeadlines deadlines_;
  // Declared before the downstream contexts: destroyed after them (see Run).
  absl::AnyInvocable<void()> done_;
  const absl::Time start_;
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
  // Set when the stored history is incomplete: the answer is degraded.
  const char* store_reason_ = nullptr;
  // Set when a retrieval shard was left out: the answer is degraded.
  std::string shard_reason_;
};

}  // namespace

void LatestBackendVersions::Record(const std::string& retrieval, const std::string& ranking,
                                   absl::Time at) {
  absl::MutexLock lock(&mu_);
  if (!retrieval.empty()) {
    versions_.retrieval = retrieval;
    versions_.retrieval_contact = std::max(versions_.retrieval_contact, at);
  }
  if (!ranking.empty()) {
    versions_.ranking = ranking;
    versions_.ranking_contact = std::max(versions_.ranking_contact, at);
  }
}

void LatestBackendVersions::RecordRetrievalContact(absl::Time at) {
  absl::MutexLock lock(&mu_);
  versions_.retrieval_contact = std::max(versions_.retrieval_contact, at);
}

void LatestBackendVersions::RecordRankingContact(absl::Time at) {
  absl::MutexLock lock(&mu_);
  versions_.ranking_contact = std::max(versions_.ranking_contact, at);
}

BackendVersions LatestBackendVersions::Get() const {
  absl::MutexLock lock(&mu_);
  return versions_;
}

RecommendLadder::RecommendLadder(RecommendLadderOptions options,
                                 std::shared_ptr<grpc::ChannelInterface> retrieval,
                                 std::shared_ptr<grpc::ChannelInterface> ranking,
                                 const UserStore* store, ResponseCache* cache,
                                 GatewayMetrics* metrics)
    : options_(std::move(options)),
      retrieval_(v1::Retrieval::NewStub(retrieval)),
      ranking_(v1::Ranking::NewStub(ranking)),
      store_(store),
      cache_(cache),
      metrics_(metrics),
      store_reads_(
          store != nullptr && store->reads_block()
              ? std::make_unique<WorkerPool>(options_.store_read_workers, options_.store_read_queue)
              : nullptr) {}

void RecommendLadder::Run(const v1::RecommendRequest* request, v1::RecommendResponse* response,
                          std::shared_ptr<const ModelBundle> bundle,
                          const StageDeadlines& deadlines, grpc::CallbackServerContext* parent,
                          absl::AnyInvocable<void()> done) {
  const CallDeps deps{&options_, retrieval_.get(), ranking_.get(), cache_, metrics_, &versions_};
  auto call = std::make_shared<RecommendCall>(deps, parent, request, response, std::move(bundle),
                                              deadlines, std::move(done));
  if (request->ignore_stored_history()) {
    call->Start(HistoryResult{});
    return;
  }
  const auto max_events = static_cast<size_t>(options_.max_history);
  if (store_reads_ == nullptr) {
    call->Start(store_->ReadHistory(request->user_id(), max_events));
    return;
  }
  // `request` stays valid until the call is done.
  const bool queued = store_reads_->TrySchedule([this, call, request, max_events] {
    call->Start(store_->ReadHistory(request->user_id(), max_events));
  });
  if (!queued) {
    call->Start(HistoryResult{{}, true, "too many Recommend calls waiting to read it"},
                kUserStoreBusyReason);
  }
}

}  // namespace recsys::gateway
