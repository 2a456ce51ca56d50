#include "offline/evaluator.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eval/metrics.h"

namespace recsys::offline {

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
  std::vector<MetricAccumulator> parts(threads, MetricAccumulator(options.k, num_items));
  auto work = [&](int t) {
    for (size_t i = t; i < cases.size(); i += threads) {
      const EvalCase& c = cases[i];
      const Interaction& target = split.target(c);
      Query q{c.user, split.history(c), target.timestamp_s};
      const SeenSet seen = SeenItems(q.history);
      std::vector<ScoredIndex> list = model.Recommend(q, options.k, seen);
      std::vector<ItemIndex> ranked;
      ranked.reserve(list.size());
      for (const ScoredIndex& s : list) ranked.push_back(s.item);
      const ItemIndex relevant[1] = {target.item};
      parts[t].Add(ranked, relevant);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  for (int t = 1; t < threads; ++t) parts[0].Merge(parts[t]);
  LeaderboardRow row;
  row.split = SplitNameString(which);
  row.model = model.name();
  row.k = options.k;
  row.recall = parts[0].recall();
  row.ndcg = parts[0].ndcg();
  row.map = parts[0].map();
  row.coverage = parts[0].coverage();
  row.users = parts[0].users();
  return row;
}

std::string FormatLeaderboard(const std::vector<LeaderboardRow>& rows) {
  std::string out;
  int k = rows.empty() ? 10 : rows.front().k;
  absl::StrAppendFormat(&out, "%-10s %-12s %10s %10s %10s %12s %6s\n", "split", "model",
                        absl::StrCat("recall@", k), absl::StrCat("ndcg@", k),
                        absl::StrCat("map@", k), absl::StrCat("coverage@", k), "users");
  for (const LeaderboardRow& r : rows) {
    absl::StrAppendFormat(&out, "%-10s %-12s %10.4f %10.4f %10.4f %12.4f %6d\n", r.split, r.model,
                          r.recall, r.ndcg, r.map, r.coverage, r.users);
  }
  return out;
}

std::string LeaderboardJson(const std::vector<LeaderboardRow>& rows) {
  std::string out = "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const LeaderboardRow& r = rows[i];
    absl::StrAppendFormat(&out,
                          "  {\"split\": \"%s\", \"model\": \"%s\", \"k\": %d, \"recall\": %.6f, "
                          "\"ndcg\": %.6f, \"map\": %.6f, \"coverage\": %.6f, \"users\": %d}%s\n",
                          r.split, r.model, r.k, r.recall, r.ndcg, r.map, r.coverage, r.users,
                          i + 1 < rows.size() ? "," : "");
  }
  out += "]\n";
  return out;
}

}  // namespace recsys::offline
