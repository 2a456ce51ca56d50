#include "common/retrieval/pool.h"

#include <algorithm>
#include <climits>

#include "absl/container/flat_hash_map.h"

namespace recsys::retrieval {

bool SourcePlan::any() const {
  return std::any_of(fetch.begin(), fetch.end(), [](int k) { return k > 0; });
}

SourcePlan PlanSources(const RetrieverSet& retrievers, const ModelBundle& bundle,
                       const SourceCounts& wanted, bool has_known_history) {
  SourcePlan plan;
  plan.cold_start = !has_known_history;
  for (int s = 0; s < kNumSources; ++s) {
    const Retriever* r = retrievers[s].get();
    const bool runs = r != nullptr && wanted[s] > 0 && r->Available(bundle) &&
                      (has_known_history || r->AnswersColdStart());
    plan.fetch[s] = runs ? wanted[s] : 0;
  }
  return plan;
}

SourceLists RetrieveSources(const RetrieverSet& retrievers, const ModelBundle& bundle,
                            const UserState& state, const SourcePlan& plan,
                            std::vector<std::pair<SourceId, absl::Status>>* failed) {
  SourceLists lists;
  for (int s = 0; s < kNumSources; ++s) {
    if (!plan.runs(s)) continue;
    auto list = retrievers[s]->Retrieve(bundle, state, plan.fetch[s]);
    if (!list.ok()) {
      if (failed) failed->emplace_back(static_cast<SourceId>(s), list.status());
      continue;
    }
    lists[s] = *std::move(list);
  }
  return lists;
}

std::vector<PooledCandidate> PoolCandidates(const SourceLists& lists, const SourceCounts& quotas,
                                            int max_pool) {
  absl::flat_hash_map<ItemIndex, int32_t> position;
  std::vector<PooledCandidate> pool;
  for (int s = 0; s < kNumSources; ++s) {
    const int32_t n =
        std::min<int32_t>(static_cast<int32_t>(lists[s].size()), std::max(quotas[s], 0));
    for (int32_t r = 0; r < n; ++r) {
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

std::vector<PooledCandidate> RetrievePool(const RetrieverSet& retrievers, const ModelBundle& bundle,
                                          const UserState& state, const SourceCounts& quotas,
                                          int max_pool,
                                          std::vector<std::pair<SourceId, absl::Status>>* failed) {
  const SourcePlan plan = PlanSources(retrievers, bundle, quotas, !state.history.empty());
  return PoolCandidates(RetrieveSources(retrievers, bundle, state, plan, failed), quotas, max_pool);
}

}  // namespace recsys::retrieval
