#include "ranking_service/ranker.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/features/features.h"
#include "common/server/request_limits.h"
#include "common/status.h"
#include "common/topk.h"

namespace recsys::ranking {
namespace {

// Longest external id accepted (HistoryEvent contract), bytes.
constexpr size_t kMaxIdBytes = 256;

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::Status CheckId(const std::string& id, absl::string_view field) {
  if (id.empty()) return Invalid(absl::StrCat(field, ": empty item id"));
  if (id.size() > kMaxIdBytes) {
    return Invalid(absl::StrCat(field, ": item id longer than ", kMaxIdBytes, " bytes"));
  }
  return absl::OkStatus();
}

float Sigmoid(float logit) { return static_cast<float>(1.0 / (1.0 + std::exp(-double{logit}))); }

}  // namespace

absl::Status Ranker::Validate(const v1::RankRequest& request) const {
  if (request.k() <= 0 || request.k() > options_.max_k) {
    return Invalid(absl::StrCat("k must be in 1..", options_.max_k, ", got ", request.k()));
  }
  if (request.exclude_item_ids_size() > options_.max_exclusions) {
    return Invalid(absl::StrCat("too many exclude_item_ids: ", request.exclude_item_ids_size(),
                                " (at most ", options_.max_exclusions, ")"));
  }
  if (request.candidates_size() > options_.max_candidates) {
    return Invalid(absl::StrCat("too many candidates: ", request.candidates_size(), " (at most ",
                                options_.max_candidates, ")"));
  }
  const v1::UserContext& user = request.user();
  if (user.history_size() > options_.max_history) {
    return Invalid(absl::StrCat("history too long: ", user.history_size(), " events (at most ",
                                options_.max_history, ")"));
  }
  if (absl::Status s = ValidateUserContextFields(user, "user"); !s.ok()) return s;
  for (int i = 0; i < user.history_size(); ++i) {
    const v1::HistoryEvent& e = user.history(i);
    const std::string field = absl::StrCat("user.history[", i, "]");
    if (absl::Status s = CheckId(e.item_id(), field); !s.ok()) return s;
    if (!std::isfinite(e.weight()) || e.weight() < 0) {
      return Invalid(absl::StrCat(field, " (", e.item_id(),
                                  "): weight must be finite and >= 0, got ", e.weight()));
    }
    if (absl::Status s = ValidateTimestamp(e.timestamp_s(), absl::StrCat(field, ".timestamp_s"));
        !s.ok()) {
      return s;
    }
  }
  if (request.options().has_mmr_lambda()) {
    const float lambda = request.options().mmr_lambda();
    if (!(lambda >= 0.0f && lambda <= 1.0f)) {  // also rejects NaN
      return Invalid(absl::StrCat("options.mmr_lambda must be in [0,1], got ", lambda));
    }
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(request.candidates_size());
  for (int i = 0; i < request.candidates_size(); ++i) {
    const v1::Candidate& c = request.candidates(i);
    const std::string field = absl::StrCat("candidates[", i, "]");
    if (absl::Status s = CheckId(c.item_id(), field); !s.ok()) return s;
    if (!seen.insert(c.item_id()).second) {
      return Invalid(absl::StrCat(field, ": duplicate candidate id ", c.item_id()));
    }
    uint32_t sources_seen = 0;
    for (const v1::SourceScore& s : c.sources()) {
      const int value = static_cast<int>(s.source());
      if (value < 1 || value > kNumSources) {
        return Invalid(absl::StrCat(field, " (", c.item_id(), "): unknown source ", value));
      }
      if (sources_seen & (1u << value)) {
        return Invalid(absl::StrCat(field, " (", c.item_id(), "): source ",
                                    v1::Source_Name(s.source()), " given twice"));
      }
      sources_seen |= 1u << value;
      if (!std::isfinite(s.score())) {
        return Invalid(absl::StrCat(field, " (", c.item_id(), "): ", v1::Source_Name(s.source()),
                                    " score is not finite (", s.score(), ")"));
      }
      if (s.rank() < 0) {
        return Invalid(absl::StrCat(field, " (", c.item_id(), "): ", v1::Source_Name(s.source()),
                                    " rank is negative (", s.rank(), ")"));
      }
    }
  }
  if (request.signals().schema() == kSignalsSchema) {
    for (int i = 0; i < request.candidates_size(); ++i) {
      const v1::Candidate& c = request.candidates(i);
      if (c.signals_size() != kNumSignals) {
        return Invalid(absl::StrCat("candidates[", i, "] (", c.item_id(), "): ", c.signals_size(),
                                    " signals, expected ", kNumSignals, " (signals schema ",
                                    kSignalsSchema, ")"));
      }
      for (int j = 0; j < kNumSignals; ++j) {
        if (!std::isfinite(c.signals(j))) {
          return Invalid(absl::StrCat("candidates[", i, "] (", c.item_id(), "): signal ",
                                      SignalNames()[j], " is not finite"));
        }
      }
    }
  }
  for (int i = 0; i < request.exclude_item_ids_size(); ++i) {
    RETURN_IF_ERROR(CheckId(request.exclude_item_ids(i), absl::StrCat("exclude_item_ids[", i, "]")));
  }
  return absl::OkStatus();
}

RankInput ToRankInput(const ModelBundle& bundle, const v1::RankRequest& request,
                      absl::string_view signals_key) {
  RankInput in;
  const IdMap& ids = bundle.catalogue.ids;
  const v1::UserContext& user = request.user();
  // BuildUserState's rule for "now"; needed here for timestamp-less events.
  const int64_t as_of = user.as_of_s() > 0 ? user.as_of_s() : bundle.trending.latest_time();

  std::vector<Interaction> history;
  history.reserve(user.history_size());
  for (const v1::HistoryEvent& e : user.history()) {
    const std::optional<int32_t> item = ids.Find(e.item_id());
    if (!item) {
      ++in.unknown_history;
      continue;
    }
    history.push_back(
        Interaction{0, *item, e.timestamp_s() > 0 ? e.timestamp_s() : as_of, e.weight()});
  }

  absl::flat_hash_set<absl::string_view> excluded_ids(request.exclude_item_ids().begin(),
                                                      request.exclude_item_ids().end());
  std::vector<ItemIndex> exclude;
  for (const std::string& id : request.exclude_item_ids()) {
    if (auto item = ids.Find(id)) exclude.push_back(*item);
  }
  in.signals_verdict = CheckRankSignals(request.signals(), bundle.manifest.version(), user,
                                       signals_key, request.candidates());
  const bool use_signals = in.signals_verdict == SignalsVerdict::kUse;
  UserState state;
  if (use_signals) {
    in.context = FeatureContext{as_of, history.size()};
  } else {
    // Only the candidates' EASE scores are needed. A pruned (sparse) EASE gives
    // the whole vector cheaper than ~400 per-candidate lookups; a dense one is
    // cheaper per candidate. Same bits either way.
    const bool dense_ease = bundle.ease && bundle.ease->sparse();
    state = BuildUserState(bundle, std::move(history), user.as_of_s(), exclude, dense_ease);
    in.context = ContextOf(state);
  }

  in.pool.reserve(request.candidates_size());
  in.pool_request_index.reserve(request.candidates_size());
  for (int i = 0; i < request.candidates_size(); ++i) {
    const v1::Candidate& c = request.candidates(i);
    const std::optional<int32_t> item = ids.Find(c.item_id());
    if (!item) ++in.unknown_candidates;
    if (excluded_ids.contains(c.item_id())) {
      ++in.excluded_candidates;
      continue;
    }
    if (!item) {
      in.unknown_request_index.push_back(i);
      continue;
    }
    PooledCandidate p;
    p.item = *item;
    p.score.fill(0.0f);
    p.rank.fill(-1);
    for (const v1::SourceScore& s : c.sources()) {
      const int source = static_cast<int>(s.source()) - 1;  // proto Source = SourceId + 1
      p.score[source] = s.score();
      p.rank[source] = s.rank();
    }
    in.pool.push_back(p);
    in.pool_request_index.push_back(i);
    if (use_signals) {
      CandidateSignals sig;
      std::copy(c.signals().begin(), c.signals().end(), sig.begin());
      in.signals.push_back(sig);
    } else {
      in.signals.push_back(ComputeSignals(bundle, state, p.item));
    }
  }
  return in;
}

std::vector<int> MmrSelect(std::span<const float> relevance, std::span<const float> embeddings,
                           int dim, float lambda, int k) {
  const int n = static_cast<int>(relevance.size());
  k = std::min(k, n);
  std::vector<int> picked;
  if (k <= 0) return picked;
  if (lambda >= 1.0f) {
    picked.resize(k);
    std::iota(picked.begin(), picked.end(), 0);
    return picked;
  }
  std::vector<float> norm(n, 0.0f);
  for (int i = 0; i < n; ++i) {
    const float* e = embeddings.data() + static_cast<size_t>(i) * dim;
    double sq = 0;
    for (int d = 0; d < dim; ++d) sq += double{e[d]} * e[d];
    norm[i] = static_cast<float>(std::sqrt(sq));
  }
  auto cosine = [&](int a, int b) -> float {
    if (norm[a] == 0.0f || norm[b] == 0.0f) return 0.0f;
    const float* ea = embeddings.data() + static_cast<size_t>(a) * dim;
    const float* eb = embeddings.data() + static_cast<size_t>(b) * dim;
    float dot = 0;
    for (int d = 0; d < dim; ++d) dot += ea[d] * eb[d];
    return dot / (norm[a] * norm[b]);
  };
  std::vector<int> remaining(n);
  std::iota(remaining.begin(), remaining.end(), 0);
  std::vector<float> max_sim(n, 0.0f);  // meaningful once something is picked
  picked.reserve(k);
  while (static_cast<int>(picked.size()) < k) {
    size_t best = 0;
    double best_value = 0;
    for (size_t r = 0; r < remaining.size(); ++r) {
      const int i = remaining[r];
      const double penalty = picked.empty() ? 0.0 : max_sim[i];
      const double value = lambda * double{relevance[i]} - (1.0 - lambda) * penalty;
      if (r == 0 || value > best_value) {  // strict: ties go to the better-ranked item
        best = r;
        best_value = value;
      }
    }
    const int chosen = remaining[best];
    picked.push_back(chosen);
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(best));
    for (int i : remaining) max_sim[i] = std::max(max_sim[i], cosine(i, chosen));
  }
  return picked;
}

absl::Status Ranker::Rank(const ModelBundle& bundle, const v1::RankRequest& request,
                          v1::RankResponse* response, RankStats* stats) const {
  if (absl::Status s = Validate(request); !s.ok()) return s;
  response->Clear();
  response->set_model_version(bundle.manifest.version());
  RankStats local;
  if (stats == nullptr) stats = &local;
  *stats = RankStats{};
  stats->candidates = request.candidates_size();
  if (request.candidates_size() == 0) return absl::OkStatus();

  const absl::Time start = absl::Now();
  RankInput in = ToRankInput(bundle, request, options_.signals_key);
  const absl::Time converted = absl::Now();
  std::vector<float> logits;
  if (!in.pool.empty()) ScorePool(bundle, in.context, in.pool, in.signals, &logits);
  stats->user_state = converted - start;
  stats->signals_verdict = in.signals_verdict;
  stats->scoring = absl::Now() - converted;
  stats->unknown_candidates = in.unknown_candidates;
  response->set_unknown_candidates(in.unknown_candidates);

  // Model order: RankPool's rule (logit descending, ties by item index).
  std::vector<int> order(in.pool.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return RanksBefore(ScoredIndex{in.pool[a].item, logits[a]},
                       ScoredIndex{in.pool[b].item, logits[b]});
  });

  if (request.options().dedupe_titles()) {
    absl::flat_hash_set<absl::string_view> titles;
    std::vector<int> kept;
    kept.reserve(order.size());
    for (int i : order) {
      const std::string& title = bundle.catalogue.titles[in.pool[i].item];
      if (title.empty() || titles.insert(title).second) kept.push_back(i);
    }
    order = std::move(kept);
  }

  const int k = request.k();
  float lambda = request.options().has_mmr_lambda() ? request.options().mmr_lambda()
                                                    : bundle.params.mmr_lambda;
  if (!(lambda >= 0.0f)) lambda = 0.0f;  // a bundle default outside [0,1] is clamped
  std::vector<int> chosen;               // into the pool, final order
  if (lambda >= 1.0f || order.size() <= 1) {
    chosen.assign(order.begin(), order.begin() + std::min<size_t>(order.size(), k));
  } else {
    const int dim = bundle.content.dim();
    std::vector<float> relevance(order.size());
    std::vector<float> embeddings(order.size() * static_cast<size_t>(dim));
    for (size_t r = 0; r < order.size(); ++r) {
      relevance[r] = Sigmoid(logits[order[r]]);
      const float* e = bundle.content.item_embedding(in.pool[order[r]].item);
      std::copy(e, e + dim, embeddings.begin() + static_cast<std::ptrdiff_t>(r * dim));
    }
    for (int r : MmrSelect(relevance, embeddings, dim, lambda, k)) chosen.push_back(order[r]);
  }

  for (int i : chosen) {
    const ItemIndex item = in.pool[i].item;
    v1::ScoredItem* out = response->add_items();
    out->set_item_id(request.candidates(in.pool_request_index[i]).item_id());
    out->set_score(Sigmoid(logits[i]));
    out->set_title(bundle.catalogue.titles[item]);
    for (int32_t c : bundle.catalogue.item_categories(item)) {
      out->add_categories(bundle.catalogue.category_names[c]);
    }
  }
  // Unknown candidates only fill what the known ones leave.
  for (int r : in.unknown_request_index) {
    if (response->items_size() >= k) break;
    v1::ScoredItem* out = response->add_items();
    out->set_item_id(request.candidates(r).item_id());
    out->set_score(0.0f);
  }
  return absl::OkStatus();
}

}  // namespace recsys::ranking
