#include "common/retrieval/user_state.h"

#include <algorithm>
#include <cmath>

namespace recsys {
namespace {

// Weight of each history position (oldest first): 2^(-age / half_life), age
// counted in events from the most recent; all ones when half_life <= 0.
std::vector<float> RecencyWeights(size_t n, float half_life) {
  std::vector<float> w(n, 1.0f);
  if (half_life <= 0) return w;
  for (size_t k = 0; k < n; ++k) {
    w[k] = std::exp2(-static_cast<float>(n - 1 - k) / half_life);
  }
  return w;
}

}  // namespace

UserState BuildUserState(const ModelBundle& bundle, std::vector<Interaction> history,
                         int64_t as_of_s, std::span<const ItemIndex> extra_exclude,
                         bool dense_ease) {
  UserState st;
  const int32_t n = bundle.num_items();
  history.erase(std::remove_if(history.begin(), history.end(),
                               [n](const Interaction& e) { return e.item < 0 || e.item >= n; }),
                history.end());
  st.history = std::move(history);
  st.as_of_s = as_of_s > 0 ? as_of_s : bundle.trending.latest_time();
  for (const Interaction& e : st.history) st.exclude.insert(e.item);
  for (ItemIndex i : extra_exclude) {
    if (i >= 0 && i < n) st.exclude.insert(i);
  }
  st.exclude_sorted.assign(st.exclude.begin(), st.exclude.end());
  std::sort(st.exclude_sorted.begin(), st.exclude_sorted.end());
  st.shard = bundle.shard.get();

  std::vector<ItemIndex> items;
  items.reserve(st.history.size());
  for (const Interaction& e : st.history) items.push_back(e.item);

  // Content profile: time-decayed sum of item embeddings.
  const int d = bundle.content.dim();
  st.profile.assign(d, 0.0f);
  const double rate = std::log(2.0) / bundle.params.profile_half_life_s;
  for (const Interaction& e : st.history) {
    const double age = std::max<double>(0.0, static_cast<double>(st.as_of_s - e.timestamp_s));
    const float w = static_cast<float>(std::exp(-rate * age));
    const float* emb = bundle.content.item_embedding(e.item);
    for (int i = 0; i < d; ++i) st.profile[i] += w * emb[i];
  }
  float norm = 0;
  for (float x : st.profile) norm += x * x;
  if (norm > 0) {
    norm = std::sqrt(norm);
    for (float& x : st.profile) x /= norm;
  }

  st.als_vector = bundle.als.FoldIn(items, RecencyWeights(items.size(), bundle.params.als_recency));
  bundle.itemknn.ScoreSparse(items, RecencyWeights(items.size(), bundle.params.itemknn_recency),
                             &st.itemknn);
  if (bundle.ease) {
    const std::vector<float> w = RecencyWeights(items.size(), bundle.params.ease_recency);
    st.ease_items = bundle.ease->WeightedItems(items, w);
    if (dense_ease) bundle.ease->Score(items, w, &st.ease_scores);
  }
  if (bundle.slist) {
    std::vector<ItemIndex> recent;
    std::vector<float> w;
    SlistModel::InputWeights(bundle.params.slist_inputs, st.history, st.as_of_s, &recent, &w);
    const EaseModel& b = bundle.slist->weights();
    st.slist_items = b.WeightedItems(recent, w);
    if (dense_ease) b.Score(recent, w, &st.slist_scores);
  }
  st.trending = TrendingAsOf(bundle.trending, st.as_of_s);

  // Markov transitions from the last `sequence_window` items, most recent first.
  float weight = 1.0f;
  int used = 0;
  for (auto it = st.history.rbegin();
       it != st.history.rend() && used < bundle.params.sequence_window; ++it, ++used) {
    auto ids = bundle.markov.row_ids(it->item);
    auto probs = bundle.markov.row_values(it->item);
    for (size_t k = 0; k < ids.size(); ++k) st.markov_scores[ids[k]] += weight * probs[k];
    weight *= bundle.params.sequence_window_decay;
  }

  st.category_share.assign(bundle.catalogue.category_names.size(), 0.0f);
  if (!st.history.empty()) {
    const float inc = 1.0f / static_cast<float>(st.history.size());
    for (ItemIndex i : items) {
      for (int32_t c : bundle.catalogue.item_categories(i)) st.category_share[c] += inc;
    }
  }
  return st;
}

}  // namespace recsys
