// Offline evaluation harness: runs a model over every case of a split and
// accumulates recall/NDCG/MAP/coverage at k (DESIGN §8 protocol), and the
// beyond-accuracy metrics of the same lists (common/eval/list_metrics.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/eval/case_results.h"
#include "common/eval/metrics.h"
#include "common/eval/split.h"
#include "common/topk.h"

namespace recsys::offline {

using SeenSet = absl::flat_hash_set<ItemIndex>;

// What a model knows when asked for one user's list.
struct Query {
  UserIndex user;
  std::span<const Interaction> history;  // events before the target, oldest first
  int64_t as_of_s;                       // the target's time: only earlier events count
};

// A model under evaluation. Recommend is const and must be safe to call from
// several threads at once.
class EvalModel {
 public:
  virtual ~EvalModel() = default;
  virtual std::string name() const = 0;
  // Best `k` items for `q`, none of them in `seen`.
  virtual std::vector<ScoredIndex> Recommend(const Query& q, int k, const SeenSet& seen) const = 0;
};

// One leaderboard row (the leaderboard JSON's object).
struct LeaderboardRow {
  std::string split;  // "validation" | "test"
  std::string model;
  int k = 10;
  double recall = 0, ndcg = 0, map = 0, coverage = 0;
  int64_t users = 0;
  // Half-widths of the 95% confidence intervals over users (normal approximation).
  double recall_ci95 = 0, ndcg_ci95 = 0, map_ci95 = 0;
  // Per-case recall@k and NDCG@k, indexed like the evaluated cases (empty
  // when not recorded): what the bundle's per-case results file holds
  // (common/eval/case_results.h). Not part of the leaderboard JSON.
  std::vector<float> case_recall, case_ndcg;
  // Beyond accuracy, over the same top-k lists (list_metrics.h): mean
  // intra-list diversity (1 - cosine of content embeddings; absent without
  // embeddings, e.g. the pool row or recsys-eval), mean novelty in bits
  // (absent without training popularity) and the Gini coefficient of item
  // exposure over the catalogue.
  std::optional<double> diversity = std::nullopt, novelty = std::nullopt;
  double gini = 0;
};

// A row from an accumulator of `split`'s cases.
LeaderboardRow MakeRow(SplitName split, const std::string& model, int k,
                       const MetricAccumulator& metrics);

// Per-case values of one row, filled by case index from several threads
// (each index written once).
struct CaseValues {
  explicit CaseValues(size_t n) : recall(n), ndcg(n) {}
  void Set(size_t i, const CaseMetrics& m) {
    recall[i] = static_cast<float>(m.recall);
    ndcg[i] = static_cast<float>(m.ndcg);
  }
  // Moves the values into `row`.
  void MoveTo(LeaderboardRow* row) {
    row->case_recall = std::move(recall);
    row->case_ndcg = std::move(ndcg);
  }
  std::vector<float> recall, ndcg;
};

// The stable keys (CaseKey: external user id, target item id, target time)
// of `which`'s cases, in the split's order.
std::vector<uint64_t> CaseKeys(const Dataset& data, const LeaveLastOutSplit& split,
                               SplitName which);

// The per-case results of `board`: one section per split (validation, test)
// with the split's case keys and every row of that split whose per-case
// values cover all of its cases (rows evaluated on a subset are left out).
CaseResults CollectCaseResults(const Dataset& data, const LeaveLastOutSplit& split,
                               const std::vector<LeaderboardRow>& board);

// Runs fn(case_index, thread) for case_index in [0, n): case i on thread
// i % threads, the calling thread being thread 0. Returns when all are done.
template <typename Fn>
void ParallelCases(size_t n, int threads, Fn&& fn) {
  threads = std::max(1, threads);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i = t; i < n; i += threads) fn(i, t);
    });
  }
  for (size_t i = 0; i < n; i += threads) fn(i, 0);
  for (auto& th : pool) th.join();
}

struct EvalOptions {
  int k = 10;
  int threads = 2;
  // Items' embeddings and popularity for diversity and novelty (not owned;
  // null: the row has neither).
  const ListQuality* quality = nullptr;
};

LeaderboardRow Evaluate(const EvalModel& model, const LeaveLastOutSplit& split, SplitName which,
                        int32_t num_items, const EvalOptions& options);

// Items of the history as a set (the seen-item exclusion).
SeenSet SeenItems(std::span<const Interaction> history);

// Fixed-width tables, one row per line, for terminals: accuracy, then (after
// a blank line) beyond accuracy ("-" for a metric a row does not have).
std::string FormatLeaderboard(const std::vector<LeaderboardRow>& rows);
// The leaderboard JSON: an array of row objects (diversity and novelty are
// null when the row has none).
std::string LeaderboardJson(const std::vector<LeaderboardRow>& rows);

}  // namespace recsys::offline
