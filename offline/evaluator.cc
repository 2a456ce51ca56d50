#include "offline/evaluator.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eval/metrics.h"

namespace recsys::offline {
namespace {

// `x` with `decimals` decimals, or "-" when absent.
std::string Optional(const std::optional<double>& x, int decimals) {
  return x ? absl::StrFormat("%.*f", decimals, *x) : std::string("-");
}

}  // namespace

SeenSet SeenItems(std::span<const Interaction> history) {
  SeenSet seen;
  seen.reserve(history.size());
  for (const Interaction& e : history) seen.insert(e.item);
  return seen;
}

LeaderboardRow Evaluate(const EvalModel& model, const LeaveLastOutSplit& split, SplitName which,
                        int32_t num_items, const EvalOptions& options) {
  const std::vector<EvalCase>& cases = split.cases(which);
  const int threads = std::max(1, options.threads);
  std::vector<MetricAccumulator> parts(threads,
                                       MetricAccumulator(options.k, num_items, options.quality));
  CaseValues values(cases.size());
  ParallelCases(cases.size(), threads, [&](size_t i, int t) {
    const EvalCase& c = cases[i];
    const Interaction& target = split.target(c);
    Query q{c.user, split.history(c), target.timestamp_s};
    const SeenSet seen = SeenItems(q.history);
    std::vector<ScoredIndex> list = model.Recommend(q, options.k, seen);
    std::vector<ItemIndex> ranked;
    ranked.reserve(list.size());
    for (const ScoredIndex& s : list) ranked.push_back(s.item);
    const ItemIndex relevant[1] = {target.item};
    values.Set(i, parts[t].Add(ranked, relevant));
  });
  for (int t = 1; t < threads; ++t) parts[0].Merge(parts[t]);
  LeaderboardRow row = MakeRow(which, model.name(), options.k, parts[0]);
  values.MoveTo(&row);
  return row;
}

std::vector<uint64_t> CaseKeys(const Dataset& data, const LeaveLastOutSplit& split,
                               SplitName which) {
  std::vector<uint64_t> keys;
  for (const EvalCase& c : split.cases(which)) {
    const Interaction& target = split.target(c);
    keys.push_back(
        CaseKey(data.users.Name(c.user), data.items.Name(target.item), target.timestamp_s));
  }
  return keys;
}

CaseResults CollectCaseResults(const Dataset& data, const LeaveLastOutSplit& split,
                               const std::vector<LeaderboardRow>& board) {
  CaseResults results;
  for (SplitName which : {SplitName::kValidation, SplitName::kTest}) {
    CaseSection section;
    section.split = SplitNameString(which);
    section.keys = CaseKeys(data, split, which);
    for (const LeaderboardRow& r : board) {
      if (r.split != section.split || r.case_recall.size() != section.keys.size() ||
          r.case_ndcg.size() != section.keys.size()) {
        continue;
      }
      section.columns.push_back(CaseColumn{r.model, r.k, r.case_recall, r.case_ndcg});
    }
    results.sections.push_back(std::move(section));
  }
  return results;
}

LeaderboardRow MakeRow(SplitName split, const std::string& model, int k,
                       const MetricAccumulator& metrics) {
  LeaderboardRow row;
  row.split = SplitNameString(split);
  row.model = model;
  row.k = k;
  row.recall = metrics.recall();
  row.ndcg = metrics.ndcg();
  row.map = metrics.map();
  row.coverage = metrics.coverage();
  row.users = metrics.users();
  row.recall_ci95 = metrics.recall_ci95();
  row.ndcg_ci95 = metrics.ndcg_ci95();
  row.map_ci95 = metrics.map_ci95();
  row.diversity = metrics.diversity();
  row.novelty = metrics.novelty();
  row.gini = metrics.exposure_gini();
  return row;
}

std::string FormatLeaderboard(const std::vector<LeaderboardRow>& rows) {
  std::string out;
  int k = rows.empty() ? 10 : rows.front().k;
  absl::StrAppendFormat(&out, "%-10s %-12s %10s %10s %10s %12s %6s %16s\n", "split", "model",
                        absl::StrCat("recall@", k), absl::StrCat("ndcg@", k),
                        absl::StrCat("map@", k), absl::StrCat("coverage@", k), "users",
                        "95% CI rec/ndcg");
  for (const LeaderboardRow& r : rows) {
    absl::StrAppendFormat(&out, "%-10s %-12s %10.4f %10.4f %10.4f %12.4f %6d  ±%.4f/±%.4f\n",
                          r.split, r.model, r.recall, r.ndcg, r.map, r.coverage, r.users,
                          r.recall_ci95, r.ndcg_ci95);
  }
  absl::StrAppendFormat(&out, "\n%-10s %-12s %12s %12s %12s %10s\n", "split", "model",
                        absl::StrCat("diversity@", k), absl::StrCat("novelty@", k),
                        absl::StrCat("coverage@", k), absl::StrCat("gini@", k));
  for (const LeaderboardRow& r : rows) {
    absl::StrAppendFormat(&out, "%-10s %-12s %12s %12s %12.4f %10.4f\n", r.split, r.model,
                          Optional(r.diversity, 4), Optional(r.novelty, 2), r.coverage, r.gini);
  }
  return out;
}

std::string LeaderboardJson(const std::vector<LeaderboardRow>& rows) {
  auto json = [](const std::optional<double>& x) {
    return x ? absl::StrFormat("%.6f", *x) : std::string("null");
  };
  std::string out = "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const LeaderboardRow& r = rows[i];
    absl::StrAppendFormat(&out,
                          "  {\"split\": \"%s\", \"model\": \"%s\", \"k\": %d, \"recall\": %.6f, "
                          "\"ndcg\": %.6f, \"map\": %.6f, \"coverage\": %.6f, \"users\": %d, "
                          "\"recall_ci95\": %.6f, \"ndcg_ci95\": %.6f, \"map_ci95\": %.6f, "
                          "\"diversity\": %s, \"novelty\": %s, \"gini\": %.6f}%s\n",
                          r.split, r.model, r.k, r.recall, r.ndcg, r.map, r.coverage, r.users,
                          r.recall_ci95, r.ndcg_ci95, r.map_ci95, json(r.diversity),
                          json(r.novelty), r.gini, i + 1 < rows.size() ? "," : "");
  }
  out += "]\n";
  return out;
}

}  // namespace recsys::offline
