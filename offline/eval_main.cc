// recsys-eval: leave-last-out leaderboard of baseline models on a data set.
//   recsys-eval --data data/ml-latest-small --models random,popularity,trending --k 10
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/cli_flags.h"
#include "common/data/loader.h"
#include "common/eval/list_metrics.h"
#include "common/eval/split.h"
#include "common/models/trending.h"
#include "common/log.h"
#include "offline/baselines.h"
#include "offline/evaluator.h"
#include "offline/served_eval.h"

ABSL_FLAG(std::string, data, "data/ml-latest-small", "Data set directory");
ABSL_FLAG(std::string, format, "auto",
          "Data layout: auto, movielens, movielens-100k, mind, generic");
ABSL_FLAG(std::string, on_bad_line, "fail",
          "What to do with a malformed input line: fail (error naming file and line) or skip "
          "(skip and count)");
ABSL_FLAG(std::string, models, "random,popularity,trending",
          "Comma-separated models to evaluate: random, popularity, trending");
ABSL_FLAG(int, k, 10, "List length for the metrics (1..1000)");
ABSL_FLAG(absl::Duration, half_life, absl::Hours(24 * 7),
          "Trending half-life (e.g. 168h, 30m)");
ABSL_FLAG(uint64_t, seed, 42, "Seed for the random baseline");
ABSL_FLAG(int, threads, 2, "Evaluation threads");
ABSL_FLAG(std::string, json, "", "Also write the leaderboard JSON to this file");
ABSL_FLAG(std::string, target, "",
          "Served evaluation: send every evaluation user's history to this gateway "
          "(host:port) and report a 'served' row instead of the offline models");
ABSL_FLAG(int64_t, eval_users, 10000,
          "Users evaluated: a deterministic sample of this many users with a 95% confidence "
          "interval per metric (0 = every user; the trainer samples the same users for the "
          "same --seed)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(5), "Served evaluation: per-call deadline");

namespace recsys {
namespace {

int Run() {
  LoadOptions load;
  auto format = ParseDataFormat(absl::GetFlag(FLAGS_format));
  if (!format) {
    LOG(ERROR) << "unknown --format '" << absl::GetFlag(FLAGS_format) << "'";
    return 2;
  }
  load.format = *format;
  const std::string policy = absl::GetFlag(FLAGS_on_bad_line);
  if (policy != "fail" && policy != "skip") {
    LOG(ERROR) << "--on_bad_line must be fail or skip, got '" << policy << "'";
    return 2;
  }
  load.on_bad_line = policy == "skip" ? BadLinePolicy::kSkip : BadLinePolicy::kFail;
  const int k = absl::GetFlag(FLAGS_k);
  if (k < 1 || k > 1000) {
    LOG(ERROR) << "--k must be in 1..1000, got " << k;
    return 2;
  }
  const absl::Duration half_life = absl::GetFlag(FLAGS_half_life);
  if (half_life <= absl::ZeroDuration()) {
    LOG(ERROR) << "--half_life must be positive";
    return 2;
  }

  const std::string dir = absl::GetFlag(FLAGS_data);
  auto data = LoadDataset(dir, load);
  if (!data.ok()) {
    LOG(ERROR) << "loading " << dir << ": " << data.status().message();
    return 1;
  }
  const LoadReport& report = data->report;
  LOG(INFO) << "loaded " << dir << " (" << DataFormatName(report.format) << "): "
            << data->num_users() << " users, " << data->num_items() << " items, "
            << data->interactions.size() << " interactions, " << report.bad_lines
            << " bad lines skipped, " << report.unknown_item_refs << " unknown item references";
  for (const std::string& m : report.bad_line_messages) LOG(WARNING) << "skipped " << m;

  const int64_t eval_users = absl::GetFlag(FLAGS_eval_users);
  if (eval_users < 0) {
    LOG(ERROR) << "--eval_users must be >= 0";
    return 2;
  }
  LeaveLastOutSplit split(*data, SplitOptions{eval_users, absl::GetFlag(FLAGS_seed)});
  LOG(INFO) << "split: " << split.train().size() << " training events, "
            << split.cases(SplitName::kTest).size() << " test users"
            << (split.sampled() ? absl::StrCat(" (a sample of ", split.eligible_users(), ")")
                                : std::string());

  offline::EvalOptions options;
  options.k = k;
  options.threads = absl::GetFlag(FLAGS_threads);
  // Novelty against the training popularity; no content model here, so the
  // rows have no diversity (recsys-train's leaderboard has it).
  const std::vector<float> popularity = PopularityCounts(split.train(), data->num_items());
  const ListQuality quality({}, 0, popularity, PopularityTotal(popularity));
  options.quality = &quality;
  std::vector<offline::LeaderboardRow> rows;
  const std::string target = absl::GetFlag(FLAGS_target);
  if (!target.empty()) {
    offline::GatewayModel served(target, *data, absl::GetFlag(FLAGS_deadline));
    for (SplitName s : {SplitName::kValidation, SplitName::kTest}) {
      rows.push_back(offline::Evaluate(served, split, s, data->num_items(), options));
    }
    const offline::GatewayModel::Counts counts = served.counts();
    LOG(INFO) << "served: " << counts.calls << " calls, " << counts.degraded
              << " degraded answers, " << counts.errors << " errors";
    std::cout << offline::FormatLeaderboard(rows);
    if (counts.errors > 0 || counts.degraded > 0) {
      LOG(WARNING) << "some answers were degraded or failed: the served row is not comparable "
                      "with the two-stage leaderboard";
    }
    const std::string json_path = absl::GetFlag(FLAGS_json);
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << offline::LeaderboardJson(rows);
    }
    return counts.errors > 0 ? 1 : 0;
  }

  std::vector<std::unique_ptr<offline::EvalModel>> models;
  TrendingModel trending(split.train(), data->num_items(), absl::ToDoubleSeconds(half_life));
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_models), ',', absl::SkipEmpty())) {
    if (name == "random") {
      models.push_back(std::make_unique<offline::RandomModel>(data->num_items(), absl::GetFlag(FLAGS_seed)));
    } else if (name == "popularity") {
      models.push_back(std::make_unique<offline::PopularityModel>(split.train(), data->num_items()));
    } else if (name == "trending") {
      models.push_back(std::make_unique<offline::TrendingEvalModel>(trending));
    } else {
      LOG(ERROR) << "unknown model '" << name << "' (known: random, popularity, trending)";
      return 2;
    }
  }

  for (SplitName s : {SplitName::kValidation, SplitName::kTest}) {
    for (const auto& m : models) {
      rows.push_back(offline::Evaluate(*m, split, s, data->num_items(), options));
    }
  }
  std::cout << offline::FormatLeaderboard(rows);
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << offline::LeaderboardJson(rows);
    if (!out.good()) {
      LOG(ERROR) << "cannot write " << json_path;
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace recsys

int main(int argc, char** argv) {
  recsys::ParseFlags(argc, argv, "recsys-eval",
                     "Leave-last-out leaderboard of recommendation models");
  return recsys::Run();
}
