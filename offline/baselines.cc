#include "offline/baselines.h"

#include <random>

namespace recsys::offline {

std::vector<ScoredIndex> RandomModel::Recommend(const Query& q, int k, const SeenSet& seen) const {
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(q.user) + 1);
  std::uniform_int_distribution<ItemIndex> pick(0, num_items_ - 1);
  std::vector<ScoredIndex> out;
  SeenSet chosen;
  const int64_t available = static_cast<int64_t>(num_items_) - static_cast<int64_t>(seen.size());
  const int want = static_cast<int>(std::min<int64_t>(k, std::max<int64_t>(available, 0)));
  while (static_cast<int>(out.size()) < want) {
    const ItemIndex i = pick(rng);
    if (seen.contains(i) || !chosen.insert(i).second) continue;
    out.push_back(ScoredIndex{i, 1.0f / static_cast<float>(out.size() + 1)});
  }
  return out;
}

PopularityModel::PopularityModel(std::span<const Interaction> train, int32_t num_items) {
  const std::vector<float> counts = PopularityCounts(train, num_items);
  for (ItemIndex i = 0; i < num_items; ++i) {
    if (counts[i] > 0) order_.push_back(ScoredIndex{i, counts[i]});
  }
  std::sort(order_.begin(), order_.end(), RanksBefore);
}

std::vector<ScoredIndex> PopularityModel::Recommend(const Query& q, int k,
                                                    const SeenSet& seen) const {
  std::vector<ScoredIndex> out;
  for (const ScoredIndex& s : order_) {
    if (static_cast<int>(out.size()) >= k) break;
    if (!seen.contains(s.item)) out.push_back(s);
  }
  return out;
}

std::vector<ScoredIndex> TrendingEvalModel::Recommend(const Query& q, int k,
                                                      const SeenSet& seen) const {
  return TrendingAsOf(model_, q.as_of_s).Top(k, [&](ItemIndex i) { return seen.contains(i); });
}

}  // namespace recsys::offline
