#include "common/features/features.h"

#include <algorithm>
#include <cmath>

namespace recsys {
namespace {

float Dot(const float* a, const float* b, int d) {
  float s = 0;
  for (int i = 0; i < d; ++i) s += a[i] * b[i];
  return s;
}

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
                          "age_years", "age_unknown"}) {
      v->push_back(n);
    }
    for (const char* n : {"content_cos", "als_dot", "itemknn", "ease", "markov", "last_cos",
                          "log_trend"}) {
      v->push_back(std::string("pool_z_") + n);
    }
    return v;
  }();
  return *names;
}

void ComputeFeatures(const ModelBundle& bundle, const UserState& st,
                     std::span<const PooledCandidate> candidates, FeatureMatrix* out) {
  out->resize(static_cast<Eigen::Index>(candidates.size()), kNumFeatures);
  const int d = bundle.content.dim();
  const int f = bundle.als.factors();
  const float* last_emb =
      st.history.empty() ? nullptr : bundle.content.item_embedding(st.history.back().item);
  const float log_hist = std::log1p(static_cast<float>(st.history.size()));
  for (size_t r = 0; r < candidates.size(); ++r) {
    const PooledCandidate& c = candidates[r];
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
    row(col++) = known ? Dot(st.profile.data(), bundle.content.item_embedding(item), d) : 0.0f;
    row(col++) = known && !st.als_vector.empty()
                     ? Dot(st.als_vector.data(), bundle.als.item_factor(item), f)
                     : 0.0f;
    auto knn = st.itemknn_scores.find(item);
    row(col++) = knn == st.itemknn_scores.end() ? 0.0f : knn->second;
    row(col++) = known && bundle.ease ? bundle.ease->ScoreOne(st.ease_items, item) : 0.0f;
    auto markov = st.markov_scores.find(item);
    row(col++) = markov == st.markov_scores.end() ? 0.0f : markov->second;
    row(col++) = known && last_emb ? Dot(last_emb, bundle.content.item_embedding(item), d) : 0.0f;
    row(col++) = known ? std::log1p(bundle.catalogue.popularity[item]) : 0.0f;
    row(col++) = known ? std::log1p(st.trending_scores[item]) : 0.0f;
    float affinity = 0;
    if (known && !bundle.catalogue.categories[item].empty()) {
      for (int32_t cat : bundle.catalogue.categories[item]) affinity += st.category_share[cat];
      affinity /= static_cast<float>(bundle.catalogue.categories[item].size());
    }
    row(col++) = affinity;
    row(col++) = log_hist;
    const int64_t release = known ? bundle.catalogue.release_time_s[item] : 0;
    if (release != 0) {
      const float years = static_cast<float>(st.as_of_s - release) / (365.25f * 86400.0f);
      row(col++) = std::clamp(years, 0.0f, 100.0f);
      row(col++) = 0.0f;
    } else {
      row(col++) = 0.0f;
      row(col++) = 1.0f;
    }
    for (int j = 0; j < kNumFeatures; ++j) row(j) = Finite(row(j));
  }
  // Pool-relative copies of the full-coverage scores.
  constexpr int kBase = 2 * kNumSources + 13;
  const int relative_of[kNumPoolRelative] = {
      2 * kNumSources + 1, 2 * kNumSources + 2, 2 * kNumSources + 3, 2 * kNumSources + 4,
      2 * kNumSources + 5, 2 * kNumSources + 6, 2 * kNumSources + 8};
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
