#include "common/candidates/user_state.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/dot.h"

namespace recsys {
namespace {

std::vector<ScoredIndex> TopOfMap(const absl::flat_hash_map<ItemIndex, float>& scores, int k,
                                  const absl::flat_hash_set<ItemIndex>& exclude) {
  std::vector<ScoredIndex> list;
  list.reserve(scores.size());
  for (const auto& [item, score] : scores) {
    if (!exclude.contains(item)) list.push_back(ScoredIndex{item, score});
  }
  SortAndTruncate(&list, k);
  return list;
}

std::vector<ScoredIndex> FromNeighbors(const std::vector<Neighbor>& nb) {
  std::vector<ScoredIndex> out;
  out.reserve(nb.size());
  for (const Neighbor& n : nb) out.push_back(ScoredIndex{static_cast<ItemIndex>(n.id), n.score});
  return out;
}

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

bool IsZero(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
}

}  // namespace

const char* SourceName(SourceId s) {
  switch (s) {
    case SourceId::kContent: return "content";
    case SourceId::kItemKnn: return "itemknn";
    case SourceId::kAls: return "als";
    case SourceId::kTrending: return "trending";
    case SourceId::kSequence: return "sequence";
    case SourceId::kEase: return "ease";
  }
  return "?";
}

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
  bundle.itemknn.ScoreDense(items, RecencyWeights(items.size(), bundle.params.itemknn_recency),
                            &st.itemknn_scores, &st.itemknn_voted);
  if (bundle.ease) {
    const std::vector<float> w = RecencyWeights(items.size(), bundle.params.ease_recency);
    st.ease_items = bundle.ease->WeightedItems(items, w);
    if (dense_ease) bundle.ease->Score(items, w, &st.ease_scores);
  }
  bundle.trending.ScoresAsOf(st.as_of_s, &st.trending_scores);

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
      for (int32_t c : bundle.catalogue.categories[i]) st.category_share[c] += inc;
    }
  }
  return st;
}

absl::StatusOr<std::vector<ScoredIndex>> SourceCandidates(const ModelBundle& bundle,
                                                          const UserState& st, SourceId source,
                                                          int k) {
  if (k <= 0) return std::vector<ScoredIndex>{};
  auto skip = [&](ItemIndex i) { return st.exclude.contains(i); };
  switch (source) {
    case SourceId::kContent: {
      if (st.history.empty() || IsZero(st.profile)) return std::vector<ScoredIndex>{};
      auto nb = bundle.content_index.Search(st.profile.data(), k, st.exclude_sorted);
      if (!nb.ok()) return nb.status();
      return FromNeighbors(*nb);
    }
    case SourceId::kItemKnn: {
      std::vector<ScoredIndex> list;
      list.reserve(st.itemknn_voted.size());
      for (ItemIndex item : st.itemknn_voted) {
        if (!st.exclude.contains(item)) list.push_back(ScoredIndex{item, st.itemknn_scores[item]});
      }
      SortAndTruncate(&list, k);
      return list;
    }
    case SourceId::kAls: {
      if (st.history.empty() || IsZero(st.als_vector)) return std::vector<ScoredIndex>{};
      auto nb = bundle.als_index.Search(st.als_vector.data(), k, st.exclude_sorted);
      if (!nb.ok()) return nb.status();
      return FromNeighbors(*nb);
    }
    case SourceId::kTrending:
      return TopKDense(st.trending_scores, k, skip);
    case SourceId::kEase:
      if (st.ease_scores.empty() || st.history.empty()) return std::vector<ScoredIndex>{};
      return TopKDense(st.ease_scores, k, skip);
    case SourceId::kSequence: {
      if (st.history.empty()) return std::vector<ScoredIndex>{};
      const ItemIndex last = st.history.back().item;
      const int d = bundle.content.dim();
      const float* last_emb = bundle.content.item_embedding(last);
      const float beta = bundle.params.sequence_blend;
      absl::flat_hash_map<ItemIndex, float> blended;
      for (const auto& [item, p] : st.markov_scores) {
        if (st.exclude.contains(item)) continue;
        blended[item] = beta * p + (1 - beta) * Dot(last_emb, bundle.content.item_embedding(item), d);
      }
      if (beta < 1.0f) {
        auto nb = bundle.content_index.Search(last_emb, k, st.exclude_sorted);
        if (!nb.ok()) return nb.status();
        for (const Neighbor& n : *nb) {
          const ItemIndex item = static_cast<ItemIndex>(n.id);
          if (blended.contains(item)) continue;
          auto it = st.markov_scores.find(item);
          const float p = it == st.markov_scores.end() ? 0.0f : it->second;
          blended[item] = beta * p + (1 - beta) * n.score;
        }
      }
      return TopOfMap(blended, k, st.exclude);
    }
  }
  return absl::InvalidArgumentError("unknown source");
}

std::vector<PooledCandidate> MergePool(
    const std::array<std::vector<ScoredIndex>, kNumSources>& lists, int max_pool) {
  absl::flat_hash_map<ItemIndex, int32_t> position;
  std::vector<PooledCandidate> pool;
  for (int s = 0; s < kNumSources; ++s) {
    for (int32_t r = 0; r < static_cast<int32_t>(lists[s].size()); ++r) {
      const ScoredIndex& c = lists[s][r];
      auto [it, inserted] = position.try_emplace(c.item, static_cast<int32_t>(pool.size()));
      if (inserted) {
        PooledCandidate p;
        p.item = c.item;
        p.score.fill(0.0f);
        p.rank.fill(-1);
        pool.push_back(p);
      }
      PooledCandidate& p = pool[it->second];
      p.score[s] = c.score;
      p.rank[s] = r;
    }
  }
  auto best_rank = [](const PooledCandidate& p) {
    int32_t best = INT32_MAX;
    for (int32_t r : p.rank) {
      if (r >= 0) best = std::min(best, r);
    }
    return best;
  };
  auto sources = [](const PooledCandidate& p) {
    return std::count_if(p.rank.begin(), p.rank.end(), [](int32_t r) { return r >= 0; });
  };
  std::sort(pool.begin(), pool.end(), [&](const PooledCandidate& a, const PooledCandidate& b) {
    const int32_t ra = best_rank(a), rb = best_rank(b);
    if (ra != rb) return ra < rb;
    const auto sa = sources(a), sb = sources(b);
    if (sa != sb) return sa > sb;
    return a.item < b.item;
  });
  if (max_pool > 0 && static_cast<int>(pool.size()) > max_pool) pool.resize(max_pool);
  return pool;
}

std::vector<PooledCandidate> RetrievePool(const ModelBundle& bundle, const UserState& state,
                                          const std::array<int, kNumSources>& quotas,
                                          int max_pool,
                                          std::vector<std::pair<SourceId, absl::Status>>* failed) {
  std::array<std::vector<ScoredIndex>, kNumSources> lists;
  for (int s = 0; s < kNumSources; ++s) {
    const SourceId id = static_cast<SourceId>(s);
    if (quotas[s] <= 0) continue;
    if (id == SourceId::kEase && !bundle.ease) continue;
    auto list = SourceCandidates(bundle, state, id, quotas[s]);
    if (!list.ok()) {
      if (failed) failed->emplace_back(id, list.status());
      continue;
    }
    lists[s] = std::move(*list);
  }
  return MergePool(lists, max_pool);
}

}  // namespace recsys
