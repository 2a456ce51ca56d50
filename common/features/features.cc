#include "common/features/features.h"

#include <algorithm>
#include <cmath>

#include "common/dot.h"

namespace recsys {
namespace {

float Finite(float x) { return std::isfinite(x) ? x : 0.0f; }

}  // namespace

const std::vector<std::string>& FeatureNames() {
  static const std::vector<std::string>* names = [] {
    auto* v = new std::vector<std::string>;
    for (int s = 0; s < kNumSources; ++s) {
      v->push_back(std::string("score_") + SourceName(static_cast<SourceId>(s)));
      v->push_back(std::string("rrank_") + SourceName(static_cast<SourceId>(s)));
    }
    for (const char* n : {"sources", "content_cos", "als_dot", "itemknn", "ease", "markov",
                          "last_cos", "log_pop", "log_trend", "cat_affinity", "log_hist",
                          "age_years", "age_unknown", "slist"}) {
      v->push_back(n);
    }
    for (const char* n : {"content_cos", "als_dot", "itemknn", "ease", "markov", "last_cos",
                          "log_trend", "slist"}) {
      v->push_back(std::string("pool_z_") + n);
    }
    return v;
  }();
  return *names;
}

const std::vector<std::string>& SignalNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>{
      "content_cos", "als_dot", "itemknn", "ease", "markov", "last_cos", "log_trend",
      "cat_affinity", "slist"};
  return *names;
}

CandidateSignals ComputeSignals(const ModelBundle& bundle, const UserState& st, ItemIndex item) {
  CandidateSignals out{};
  if (item < 0 || item >= bundle.num_items()) return out;
  const float* emb = bundle.content.item_embedding(item);
  const int d = bundle.content.dim();
  out[0] = Dot(st.profile.data(), emb, d);
  out[1] = st.als_vector.empty()
               ? 0.0f
               : Dot(st.als_vector.data(), bundle.als.item_factor(item), bundle.als.factors());
  out[2] = st.itemknn.Get(item);
  if (bundle.ease) {
    // The dense vector, when retrieval computed it, holds the same bits.
    out[3] = st.ease_scores.empty() ? bundle.ease->ScoreOne(st.ease_items, item)
                                    : bundle.ease->ScoreAt(st.ease_scores, item);
  }
  auto markov = st.markov_scores.find(item);
  out[4] = markov == st.markov_scores.end() ? 0.0f : markov->second;
  out[5] = st.history.empty()
               ? 0.0f
               : Dot(bundle.content.item_embedding(st.history.back().item), emb, d);
  out[6] = std::log1p(st.trending.score(item));
  float affinity = 0;
  const std::span<const int32_t> cats = bundle.catalogue.item_categories(item);
  if (!cats.empty()) {
    for (int32_t cat : cats) affinity += st.category_share[cat];
    affinity /= static_cast<float>(cats.size());
  }
  out[7] = affinity;
  if (bundle.slist) {
    const EaseModel& b = bundle.slist->weights();
    out[8] = st.slist_scores.empty() ? b.ScoreOne(st.slist_items, item)
                                     : b.ScoreAt(st.slist_scores, item);
  }
  return out;
}

void ComputeSignals(const ModelBundle& bundle, const UserState& state,
                    std::span<const PooledCandidate> candidates,
                    std::vector<CandidateSignals>* out) {
  out->resize(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    (*out)[i] = ComputeSignals(bundle, state, candidates[i].item);
  }
}

FeatureContext ContextOf(const UserState& state) {
  return FeatureContext{state.as_of_s, state.history.size()};
}

void ComputeFeatures(const ModelBundle& bundle, const UserState& state,
                     std::span<const PooledCandidate> candidates, FeatureMatrix* out) {
  std::vector<CandidateSignals> signals;
  ComputeSignals(bundle, state, candidates, &signals);
  ComputeFeatures(bundle, ContextOf(state), candidates, signals, out);
}

void ComputeFeatures(const ModelBundle& bundle, const FeatureContext& context,
                     std::span<const PooledCandidate> candidates,
                     std::span<const CandidateSignals> signals, FeatureMatrix* out) {
  out->resize(static_cast<Eigen::Index>(candidates.size()), kNumFeatures);
  const float log_hist = std::log1p(static_cast<float>(context.history_size));
  for (size_t r = 0; r < candidates.size(); ++r) {
    const PooledCandidate& c = candidates[r];
    const CandidateSignals& sig = signals[r];
    const ItemIndex item = c.item;
    auto row = out->row(static_cast<Eigen::Index>(r));
    int col = 0;
    int sources = 0;
    for (int s = 0; s < kNumSources; ++s) {
      const bool present = c.rank[s] >= 0;
      sources += present;
      row(col++) = present ? Finite(c.score[s]) : 0.0f;
      row(col++) = present ? 1.0f / (1.0f + static_cast<float>(c.rank[s])) : 0.0f;
    }
    row(col++) = static_cast<float>(sources);
    const bool known = item >= 0 && item < bundle.num_items();
    for (int k = 0; k < 6; ++k) row(col++) = known ? sig[k] : 0.0f;  // content_cos .. last_cos
    row(col++) = known ? std::log1p(bundle.catalogue.popularity[item]) : 0.0f;
    row(col++) = known ? sig[6] : 0.0f;  // log_trend
    row(col++) = known ? sig[7] : 0.0f;  // cat_affinity
    row(col++) = log_hist;
    const int64_t release = known ? bundle.catalogue.release_time_s[item] : 0;
    if (release != 0) {
      const float years = static_cast<float>(context.as_of_s - release) / (365.25f * 86400.0f);
      row(col++) = std::clamp(years, 0.0f, 100.0f);
      row(col++) = 0.0f;
    } else {
      row(col++) = 0.0f;
      row(col++) = 1.0f;
    }
    row(col++) = known ? sig[8] : 0.0f;  // slist
    for (int j = 0; j < kNumFeatures; ++j) row(j) = Finite(row(j));
  }
  // Pool-relative copies of the full-coverage scores.
  constexpr int kBase = 2 * kNumSources + 14;
  const int relative_of[kNumPoolRelative] = {
      2 * kNumSources + 1, 2 * kNumSources + 2, 2 * kNumSources + 3, 2 * kNumSources + 4,
      2 * kNumSources + 5, 2 * kNumSources + 6, 2 * kNumSources + 8, 2 * kNumSources + 13};
  const Eigen::Index rows = out->rows();
  for (int r = 0; r < kNumPoolRelative; ++r) {
    const int src = relative_of[r];
    double mean = 0, sq = 0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      mean += (*out)(i, src);
      sq += double{(*out)(i, src)} * (*out)(i, src);
    }
    mean = rows ? mean / rows : 0.0;
    const double var = rows ? sq / rows - mean * mean : 0.0;
    const double sd = var > 1e-12 ? std::sqrt(var) : 1.0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      (*out)(i, kBase + r) = static_cast<float>(((*out)(i, src) - mean) / sd);
    }
  }
}

}  // namespace recsys

namespace recsys {

void ScorePool(const ModelBundle& bundle, const UserState& state,
               std::span<const PooledCandidate> pool, std::vector<float>* scores) {
  FeatureMatrix x;
  ComputeFeatures(bundle, state, pool, &x);
  bundle.ranker.Margins(x, scores);
}

void ScorePool(const ModelBundle& bundle, const FeatureContext& context,
               std::span<const PooledCandidate> pool, std::span<const CandidateSignals> signals,
               std::vector<float>* scores) {
  FeatureMatrix x;
  ComputeFeatures(bundle, context, pool, signals, &x);
  bundle.ranker.Margins(x, scores);
}

std::vector<ScoredIndex> RankPool(const ModelBundle& bundle, const UserState& state,
                                  std::span<const PooledCandidate> pool, int k) {
  std::vector<float> scores;
  ScorePool(bundle, state, pool, &scores);
  std::vector<ScoredIndex> list;
  list.reserve(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) list.push_back(ScoredIndex{pool[i].item, scores[i]});
  SortAndTruncate(&list, k);
  return list;
}

}  // namespace recsys
