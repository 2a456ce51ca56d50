#include "offline/evaluate_pass.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/eval/metrics.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/retrieval/pool.h"
#include "common/retrieval/user_state.h"

namespace recsys::offline {
namespace {

std::vector<Interaction> HistoryOf(const LeaveLastOutSplit& split, const EvalCase& c) {
  auto h = split.history(c);
  return std::vector<Interaction>(h.begin(), h.end());
}

std::vector<ItemIndex> Items(std::span<const ScoredIndex> list, size_t k) {
  std::vector<ItemIndex> out;
  for (size_t i = 0; i < list.size() && i < k; ++i) out.push_back(list[i].item);
  return out;
}

}  // namespace

ListQuality BundleListQuality(const ModelBundle& bundle) {
  const ArrayStore<float>& embeddings = bundle.content.item_embeddings();
  return ListQuality(embeddings, bundle.content.dim(), bundle.catalogue.popularity,
                     PopularityTotal(bundle.catalogue.popularity));
}

PassOutput EvaluatePass(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                        std::span<const EvalCase> cases, SplitName which, int k, int threads,
                        bool with_ranker, bool collect_rows, std::vector<LeaderboardRow>* rows) {
  threads = std::max(1, threads);
  const int32_t n = bundle.num_items();
  const int max_pool = bundle.params.max_pool;
  // The pool is not a list anyone sees, and its diversity would cost
  // O(pool^2 * dim) per case (~8M multiply-adds at 400 x 96): novelty only.
  const ListQuality quality = BundleListQuality(bundle);
  const ListQuality pool_quality = quality.WithoutDiversity();
  struct Local {
    std::vector<MetricAccumulator> sources;
    MetricAccumulator pool;
    MetricAccumulator two_stage;
    int64_t pool_size = 0;
  };
  std::vector<Local> local;
  for (int t = 0; t < threads; ++t) {
    local.push_back(
        Local{std::vector<MetricAccumulator>(kNumSources, MetricAccumulator(k, n, &quality)),
              MetricAccumulator(max_pool, n, &pool_quality), MetricAccumulator(k, n, &quality),
              0});
  }
  // Sources with a leaderboard row: those whose model the bundle has.
  const retrieval::RetrieverSet& retrievers = retrieval::DefaultRetrievers();
  std::array<bool, kNumSources> available{};
  for (int s = 0; s < kNumSources; ++s) {
    available[s] = retrievers[s] != nullptr && retrievers[s]->Available(bundle);
  }
  // Per-case values of every row (sources, pool, two-stage).
  std::vector<CaseValues> source_values(kNumSources, CaseValues(0));
  for (int s = 0; s < kNumSources; ++s) {
    if (available[s]) source_values[s] = CaseValues(cases.size());
  }
  CaseValues pool_values(cases.size());
  CaseValues two_stage_values(with_ranker ? cases.size() : 0);
  std::vector<FeatureMatrix> case_rows(collect_rows ? cases.size() : 0);
  std::vector<std::vector<uint8_t>> case_labels(collect_rows ? cases.size() : 0);
  Progress progress(absl::StrCat("evaluate ", SplitNameString(which)),
                    static_cast<int64_t>(cases.size()), absl::Seconds(10));
  ParallelCases(cases.size(), threads, [&](size_t i, int t) {
    const EvalCase& c = cases[i];
    const Interaction& target = split.target(c);
    const ItemIndex rel[1] = {target.item};
    UserState st = BuildUserState(bundle, HistoryOf(split, c), target.timestamp_s, {});
    // Every source is asked for at least k (its own leaderboard row), then cut
    // to its quota for the pool.
    retrieval::SourceCounts fetch;
    for (int s = 0; s < kNumSources; ++s) fetch[s] = std::max(bundle.params.quotas[s], k);
    const retrieval::SourcePlan plan =
        retrieval::PlanSources(retrievers, bundle, fetch, !st.history.empty());
    const retrieval::SourceLists lists =
        retrieval::RetrieveSources(retrievers, bundle, st, plan, nullptr);
    for (int s = 0; s < kNumSources; ++s) {
      if (available[s]) source_values[s].Set(i, local[t].sources[s].Add(Items(lists[s], k), rel));
    }
    const std::vector<PooledCandidate> pool =
        retrieval::PoolCandidates(lists, bundle.params.quotas, max_pool);
    std::vector<ItemIndex> pool_items;
    for (const auto& p : pool) pool_items.push_back(p.item);
    pool_values.Set(i, local[t].pool.Add(pool_items, rel));
    local[t].pool_size += static_cast<int64_t>(pool.size());
    const bool hit =
        std::find(pool_items.begin(), pool_items.end(), target.item) != pool_items.end();
    if (collect_rows && hit) {
      ComputeFeatures(bundle, st, pool, &case_rows[i]);
      case_labels[i].resize(pool.size());
      for (size_t r = 0; r < pool.size(); ++r) case_labels[i][r] = pool[r].item == target.item;
    }
    if (with_ranker) {
      two_stage_values.Set(i, local[t].two_stage.Add(Items(RankPool(bundle, st, pool, k), k), rel));
    }
    progress.Add();
  });
  progress.Done();
  for (int t = 1; t < threads; ++t) {
    for (int s = 0; s < kNumSources; ++s) local[0].sources[s].Merge(local[t].sources[s]);
    local[0].pool.Merge(local[t].pool);
    local[0].two_stage.Merge(local[t].two_stage);
    local[0].pool_size += local[t].pool_size;
  }
  for (int s = 0; s < kNumSources; ++s) {
    if (!available[s]) continue;
    rows->push_back(MakeRow(which, SourceName(static_cast<SourceId>(s)), k, local[0].sources[s]));
    source_values[s].MoveTo(&rows->back());
  }
  LeaderboardRow pool_row = MakeRow(which, "pool", max_pool, local[0].pool);
  pool_values.MoveTo(&pool_row);
  LOG(INFO) << SplitNameString(which) << " pool: mean size "
            << (cases.empty() ? 0.0 : static_cast<double>(local[0].pool_size) / cases.size())
            << ", recall@pool " << pool_row.recall;
  rows->push_back(std::move(pool_row));
  if (with_ranker) {
    rows->push_back(MakeRow(which, "two_stage", k, local[0].two_stage));
    two_stage_values.MoveTo(&rows->back());
  }

  PassOutput out;
  if (collect_rows) {
    int64_t total = 0;
    for (const auto& m : case_rows) total += m.rows();
    out.features.resize(total, kNumFeatures);
    int64_t r = 0;
    for (size_t i = 0; i < case_rows.size(); ++i) {
      for (int64_t j = 0; j < case_rows[i].rows(); ++j, ++r) {
        out.features.row(r) = case_rows[i].row(j);
        out.labels.push_back(case_labels[i][j]);
        out.group.push_back(static_cast<int32_t>(i));
      }
    }
  }
  return out;
}

std::optional<double> SourceNdcg(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                                 std::span<const EvalCase> cases, SourceId source, int k,
                                 int threads, absl::Time deadline) {
  std::vector<MetricAccumulator> acc(std::max(1, threads),
                                     MetricAccumulator(k, bundle.num_items()));
  std::atomic<bool> late{false};
  ParallelCases(cases.size(), threads, [&](size_t i, int t) {
    // Checked every 64 cases: a clock read costs more than a small case.
    if (late.load(std::memory_order_relaxed)) return;
    if (i % 64 == 0 && absl::Now() > deadline) {
      late = true;
      return;
    }
    const EvalCase& c = cases[i];
    const Interaction& target = split.target(c);
    UserState st = BuildUserState(bundle, HistoryOf(split, c), target.timestamp_s, {});
    auto list = retrieval::DefaultRetrievers()[static_cast<int>(source)]->Retrieve(bundle, st, k);
    const ItemIndex rel[1] = {target.item};
    acc[t].Add(list.ok() ? Items(*list, k) : std::vector<ItemIndex>{}, rel);
  });
  if (late) return std::nullopt;
  for (size_t t = 1; t < acc.size(); ++t) acc[0].Merge(acc[t]);
  return acc[0].ndcg();
}

}  // namespace recsys::offline
