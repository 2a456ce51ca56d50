#include "retrieval_service/requests.h"

#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/retrieval/category_hints.h"
#include "common/server/candidate_proto.h"
#include "common/server/rank_signals.h"
#include "common/server/request_limits.h"

namespace recsys::retrieval {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status CheckK(int k, const RequestLimits& limits, absl::string_view field) {
  if (k <= 0 || k > limits.max_k) {
    return Invalid(absl::StrCat(field, " must be in 1..", limits.max_k, ", got ", k));
  }
  return absl::OkStatus();
}

absl::Status CheckId(const std::string& id, const RequestLimits& limits, absl::string_view field) {
  if (id.empty()) return Invalid(absl::StrCat(field, ": empty item id"));
  if (static_cast<int64_t>(id.size()) > limits.max_id_bytes) {
    return Invalid(absl::StrCat(field, ": item id of ", id.size(), " bytes (at most ",
                                limits.max_id_bytes, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRetrieveRequest(const v1::RetrieveRequest& request,
                                     const RequestLimits& limits) {
  const v1::UserContext& user = request.user();
  if (user.history_size() > limits.max_history) {
    return Invalid(absl::StrCat("user.history has ", user.history_size(), " events (at most ",
                                limits.max_history, ")"));
  }
  if (absl::Status s = ValidateUserContextFields(user, "user"); !s.ok()) return s;
  for (int i = 0; i < user.history_size(); ++i) {
    const v1::HistoryEvent& e = user.history(i);
    const std::string field = absl::StrCat("user.history[", i, "]");
    if (absl::Status s = CheckId(e.item_id(), limits, field); !s.ok()) return s;
    if (!std::isfinite(e.weight()) || e.weight() < 0) {
      return Invalid(absl::StrCat(field, " (", e.item_id(),
                                  "): weight must be finite and >= 0, got ", e.weight()));
    }
    if (absl::Status s = ValidateTimestamp(e.timestamp_s(), absl::StrCat(field, ".timestamp_s"));
        !s.ok()) {
      return s;
    }
  }
  uint32_t seen = 0;
  for (int i = 0; i < request.quotas_size(); ++i) {
    const v1::SourceQuota& q = request.quotas(i);
    const std::string field = absl::StrCat("quotas[", i, "]");
    const int value = static_cast<int>(q.source());
    if (value < 1 || value > kNumSources) {
      return Invalid(absl::StrCat(field, ": unknown source ", value));
    }
    if (seen & (1u << value)) {
      return Invalid(absl::StrCat(field, ": source ", v1::Source_Name(q.source()), " given twice"));
    }
    seen |= 1u << value;
    if (q.k() < 0 || q.k() > limits.max_k) {
      return Invalid(absl::StrCat(field, " (", v1::Source_Name(q.source()), "): k must be in 0..",
                                  limits.max_k, " (0 disables the source), got ", q.k()));
    }
  }
  if (request.exclude_item_ids_size() > limits.max_exclusions) {
    return Invalid(absl::StrCat("exclude_item_ids has ", request.exclude_item_ids_size(),
                                " ids (at most ", limits.max_exclusions, ")"));
  }
  for (int i = 0; i < request.exclude_item_ids_size(); ++i) {
    if (absl::Status s =
            CheckId(request.exclude_item_ids(i), limits, absl::StrCat("exclude_item_ids[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  if (request.max_candidates() < 0) {
    return Invalid(absl::StrCat("max_candidates must be >= 0 (0 = the bundle's pool size), got ",
                                request.max_candidates()));
  }
  return absl::OkStatus();
}

absl::Status ValidateSearchRequest(const v1::SearchRequest& request, const RequestLimits& limits) {
  if (request.query().empty()) return Invalid("query must not be empty");
  if (static_cast<int64_t>(request.query().size()) > limits.max_query_bytes) {
    return Invalid(absl::StrCat("query of ", request.query().size(), " bytes (at most ",
                                limits.max_query_bytes, ")"));
  }
  if (absl::StripAsciiWhitespace(request.query()).empty()) {
    return Invalid("query must not be only white space");
  }
  return CheckK(request.k(), limits, "k");
}

absl::Status ValidateSimilarItemsRequest(const v1::SimilarItemsRequest& request,
                                         const RequestLimits& limits) {
  if (absl::Status s = CheckId(request.item_id(), limits, "item_id"); !s.ok()) return s;
  return CheckK(request.k(), limits, "k");
}

ConvertedRetrieve ConvertRetrieveRequest(std::shared_ptr<const ModelBundle> bundle,
                                         const v1::RetrieveRequest& request) {
  ConvertedRetrieve out;
  const IdMap& ids = bundle->catalogue.ids;
  const v1::UserContext& user = request.user();
  // BuildUserState's rule for "now", needed here for events without a time.
  const int64_t as_of = user.as_of_s() > 0 ? user.as_of_s() : bundle->trending.latest_time();

  out.pool.history.reserve(user.history_size());
  for (const v1::HistoryEvent& e : user.history()) {
    const std::optional<int32_t> item = ids.Find(e.item_id());
    if (!item) {
      ++out.unknown_history_items;
      continue;
    }
    out.pool.history.push_back(
        Interaction{0, *item, e.timestamp_s() > 0 ? e.timestamp_s() : as_of, e.weight()});
  }
  out.pool.as_of_s = user.as_of_s();
  for (const std::string& id : request.exclude_item_ids()) {
    if (std::optional<int32_t> item = ids.Find(id)) out.pool.exclude.push_back(*item);
  }
  CategoryHints hints = ResolveCategoryHints(bundle->catalogue, user.categories());
  out.pool.category_hints = std::move(hints.categories);
  out.unknown_categories = hints.unknown;
  out.pool.quotas = bundle->params.quotas;
  for (const v1::SourceQuota& q : request.quotas()) {
    out.pool.quotas[static_cast<int>(q.source()) - 1] = q.k();
  }
  out.pool.max_pool =
      request.max_candidates() > 0 ? request.max_candidates() : bundle->params.max_pool;
  if (request.shard_lists()) {
    out.listing.enabled = true;
    out.listing.quotas = out.pool.quotas;
    out.listing.max_pool = out.pool.max_pool;
    out.pool.max_pool = 0;  // every listed candidate goes back; the merger cuts
  }
  out.pool.with_signals = request.with_signals();
  if (request.with_signals()) out.user_fingerprint = UserFingerprint(user);
  out.pool.bundle = std::move(bundle);
  return out;
}

void FillRetrieveResponse(const ModelBundle& bundle, const PoolResult& result,
                          int unknown_history_items, uint64_t user_fingerprint,
                          const ShardListing& listing, v1::RetrieveResponse* response) {
  const bool with_signals = !result.signals.empty() && result.signals.size() == result.pool.size();
  response->mutable_candidates()->Reserve(static_cast<int>(result.pool.size()));
  for (size_t i = 0; i < result.pool.size(); ++i) {
    const PooledCandidate& p = result.pool[i];
    v1::Candidate* c = response->add_candidates();
    ToProtoCandidate(bundle, p, c);
    if (listing.enabled) c->set_catalogue_index(p.item);
    if (with_signals) {
      c->mutable_signals()->Add(result.signals[i].begin(), result.signals[i].end());
    }
  }
  for (int s = 0; s < kNumSources; ++s) {
    const SourceOutcome& o = result.sources[s];
    if (!o.skipped) continue;
    v1::SkippedSource* skipped = response->add_skipped();
    skipped->set_source(static_cast<v1::Source>(s + 1));
    skipped->set_reason(*o.skipped == SkipReason::kError
                            ? absl::StrCat("error: ", o.error.message())
                            : SkipReasonName(*o.skipped));
  }
  response->set_model_version(bundle.manifest.version());
  if (bundle.shard != nullptr) response->set_shard(bundle.shard->spec().ToString());
  if (listing.enabled) {
    for (int s = 0; s < kNumSources; ++s) {
      v1::SourceQuota* q = response->add_quotas();
      q->set_source(static_cast<v1::Source>(s + 1));
      q->set_k(std::max(listing.quotas[s], 0));
    }
    response->set_max_candidates(std::max(listing.max_pool, 0));
  }
  if (with_signals) {
    v1::RankSignals* signals = response->mutable_signals();
    signals->set_schema(kSignalsSchema);
    signals->set_model_version(bundle.manifest.version());
    signals->set_user_fingerprint(user_fingerprint);
  }
  response->set_unknown_history_items(unknown_history_items);
  if (result.user_state_elapsed > absl::ZeroDuration()) {
    v1::StageTiming* t = response->add_timings();
    t->set_stage("user_state");
    t->set_micros(absl::ToInt64Microseconds(result.user_state_elapsed));
  }
  for (int s = 0; s < kNumSources; ++s) {
    if (!result.sources[s].ran) continue;
    v1::StageTiming* t = response->add_timings();
    t->set_stage(SourceName(static_cast<SourceId>(s)));
    t->set_micros(absl::ToInt64Microseconds(result.sources[s].elapsed));
  }
}

}  // namespace recsys::retrieval
