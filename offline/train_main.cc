// recsys-train: fits every model, evaluates, publishes a versioned bundle.
//   recsys-train --data data/ml-latest-small --registry registry --name movielens
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "common/cli_flags.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "common/vlog.h"
#include "offline/trainer.h"

ABSL_FLAG(std::string, data, "data/ml-latest-small", "Data set directory");
ABSL_FLAG(std::string, format, "auto",
          "Data layout: auto, movielens, movielens-100k, mind, generic");
ABSL_FLAG(std::string, on_bad_line, "fail",
          "Malformed input line: fail (error naming file and line) or skip (skip and count)");
ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name inside the registry");
ABSL_FLAG(std::string, holdout, "last",
          "last: evaluation bundle fit without each user's last two events; none: evaluate the "
          "same way, then refit on every event (production bundle)");
ABSL_FLAG(int, k, 10, "List length for the leaderboard metrics");
ABSL_FLAG(uint64_t, seed, 42, "Random seed (training is deterministic for a fixed seed)");
ABSL_FLAG(int, threads, 2, "Worker threads");
ABSL_FLAG(int, content_dim, 96, "Content (LSA) embedding dimension");
ABSL_FLAG(int, als_factors, 64, "ALS factors (starting value; tuning may change it)");
ABSL_FLAG(int, als_iterations, 15, "ALS iterations");
ABSL_FLAG(bool, ease, true, "Fit EASE");
ABSL_FLAG(int, ease_max_items, recsys::offline::TrainOptions{}.ease_max_items,
          "Items EASE covers: larger catalogues fit it on their this-many most popular items "
          "(fitting holds n^2 floats and costs O(n^3); at most 30000)");
ABSL_FLAG(int, ease_keep, recsys::offline::TrainOptions{}.ease_keep,
          "EASE entries kept per item row (largest |weight|, stored sparse); 0 keeps B dense");
ABSL_FLAG(bool, slist, true, "Fit the sequence-aware SLIST model (a source and a ranker feature)");
ABSL_FLAG(double, slist_lambda, recsys::SlistOptions{}.lambda, "SLIST L2 weight (> 0)");
ABSL_FLAG(double, slist_alpha, recsys::SlistOptions{}.alpha,
          "SLIST share of the reconstruction (EASE) objective vs next-item transitions, 0..1");
ABSL_FLAG(int, slist_window, recsys::SlistInputs{}.window, "SLIST: most recent items in an input");
ABSL_FLAG(double, slist_position_decay, recsys::SlistInputs{}.position_decay,
          "SLIST: input weight exp(-k / this) for the k-th most recent item (<= 0: none)");
ABSL_FLAG(absl::Duration, slist_time_tau, absl::Seconds(recsys::SlistInputs{}.time_tau_s),
          "SLIST: time factor floor + (1 - floor) * exp(-gap / this) (0: none)");
ABSL_FLAG(double, slist_time_floor, recsys::SlistInputs{}.time_floor,
          "SLIST: the time factor's floor, 0..1");
ABSL_FLAG(int, slist_max_items, recsys::SlistOptions{}.max_items,
          "Items SLIST covers (the most popular; fitting holds 2 n^2 floats and costs O(n^3); "
          "at most 30000)");
ABSL_FLAG(int64_t, slist_max_rows, recsys::SlistOptions{}.max_rows,
          "SLIST training rows in all (each user keeps the same number of most recent targets, "
          "the largest that fits; bounds the fit's cost at any number of events; 0 = no bound)");
ABSL_FLAG(int, slist_keep, recsys::SlistOptions{}.keep,
          "SLIST entries kept per item row (largest |weight|); 0 keeps B dense");
ABSL_FLAG(absl::Duration, trending_half_life, absl::Hours(24 * 7),
          "Trending half-life (starting value; tuning may change it)");
ABSL_FLAG(int, max_pool, 400, "Largest candidate pool the ranker sees");
ABSL_FLAG(absl::Duration, tune_budget, absl::Seconds(30),
          "Wall-time budget for hyper-parameter tuning on validation (0 disables)");
ABSL_FLAG(int64_t, eval_users, recsys::offline::TrainOptions{}.eval_users,
          "Users evaluated on large data: a deterministic sample of this many users with a "
          "95% confidence interval per metric (0 = every user)");
ABSL_FLAG(int64_t, tune_users, recsys::offline::TrainOptions{}.tune_users,
          "Validation users each tuning step evaluates (a sample of the evaluated users)");
ABSL_FLAG(int64_t, ranker_cases, recsys::offline::TrainOptions{}.ranker_cases,
          "Validation users whose candidate pools train the ranker (bounds its training set)");
ABSL_FLAG(int, itemknn_max_user_events, recsys::ItemKnnParams{}.max_user_events,
          "Item-kNN co-occurrence counts each user's most recent N distinct items only (0 = all)");
ABSL_FLAG(int64_t, flat_max_items, recsys::VectorIndexOptions{}.flat_max_items,
          "Catalogues up to this many items get exact vector indexes; larger ones HNSW "
          "(recall measured and recorded in the manifest)");
ABSL_FLAG(bool, publish, true, "Publish the bundle to the registry");
ABSL_FLAG(std::string, json, "", "Also write the leaderboard JSON to this file");
ABSL_FLAG(std::string, report_data, "",
          "Also write the evaluation report's data (per-source recall by depth, shares of "
          "the final lists, calibration, ranker weights; JSON) to this file; "
          "scripts/report.py draws it");
ABSL_FLAG(int, v, 0,
          "Verbosity: 0 = one line per phase; 1 adds each model's fit details and the "
          "per-iteration ALS losses");

int main(int argc, char** argv) {
  recsys::ParseFlags(argc, argv, "recsys-train", "Train every model, evaluate, publish a bundle");
  if (absl::GetFlag(FLAGS_v) < 0) {
    LOG(ERROR) << "--v must be 0 or more";
    return 2;
  }
  recsys::SetVerbosity(absl::GetFlag(FLAGS_v));
  using recsys::offline::TrainOptions;
  TrainOptions o;
  o.data_dir = absl::GetFlag(FLAGS_data);
  auto format = recsys::ParseDataFormat(absl::GetFlag(FLAGS_format));
  if (!format) {
    LOG(ERROR) << "unknown --format '" << absl::GetFlag(FLAGS_format) << "'";
    return 2;
  }
  o.load.format = *format;
  const std::string policy = absl::GetFlag(FLAGS_on_bad_line);
  if (policy != "fail" && policy != "skip") {
    LOG(ERROR) << "--on_bad_line must be fail or skip";
    return 2;
  }
  o.load.on_bad_line =
      policy == "skip" ? recsys::BadLinePolicy::kSkip : recsys::BadLinePolicy::kFail;
  const std::string holdout = absl::GetFlag(FLAGS_holdout);
  if (holdout != "last" && holdout != "none") {
    LOG(ERROR) << "--holdout must be last or none";
    return 2;
  }
  o.production = holdout == "none";
  o.registry = absl::GetFlag(FLAGS_registry);
  o.name = absl::GetFlag(FLAGS_name);
  if (const absl::Status bad = recsys::ValidateModelName(o.name); !bad.ok()) {
    LOG(ERROR) << "--name: " << bad.message();
    return 2;
  }
  o.k = absl::GetFlag(FLAGS_k);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.content.dim = absl::GetFlag(FLAGS_content_dim);
  o.content.seed = o.seed;
  o.als.factors = absl::GetFlag(FLAGS_als_factors);
  o.als.iterations = absl::GetFlag(FLAGS_als_iterations);
  o.als.threads = o.threads;
  o.als.seed = o.seed;
  o.itemknn.threads = o.threads;
  o.ease = absl::GetFlag(FLAGS_ease);
  o.ease_max_items = absl::GetFlag(FLAGS_ease_max_items);
  o.ease_keep = absl::GetFlag(FLAGS_ease_keep);
  o.slist = absl::GetFlag(FLAGS_slist);
  o.slist_options.lambda = absl::GetFlag(FLAGS_slist_lambda);
  o.slist_options.alpha = absl::GetFlag(FLAGS_slist_alpha);
  o.slist_options.max_items = absl::GetFlag(FLAGS_slist_max_items);
  o.slist_options.keep = absl::GetFlag(FLAGS_slist_keep);
  o.slist_options.max_rows = absl::GetFlag(FLAGS_slist_max_rows);
  o.serving.slist_inputs.window = absl::GetFlag(FLAGS_slist_window);
  o.serving.slist_inputs.position_decay = absl::GetFlag(FLAGS_slist_position_decay);
  o.serving.slist_inputs.time_tau_s = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_slist_time_tau));
  o.serving.slist_inputs.time_floor = absl::GetFlag(FLAGS_slist_time_floor);
  o.serving.trending_half_life_s = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_trending_half_life));
  o.serving.max_pool = absl::GetFlag(FLAGS_max_pool);
  o.tune_budget = absl::GetFlag(FLAGS_tune_budget);
  o.eval_users = absl::GetFlag(FLAGS_eval_users);
  o.tune_users = absl::GetFlag(FLAGS_tune_users);
  o.ranker_cases = absl::GetFlag(FLAGS_ranker_cases);
  o.itemknn.max_user_events = absl::GetFlag(FLAGS_itemknn_max_user_events);
  o.index.flat_max_items = absl::GetFlag(FLAGS_flat_max_items);
  o.publish = absl::GetFlag(FLAGS_publish);
  o.json_path = absl::GetFlag(FLAGS_json);
  o.diagnostics_path = absl::GetFlag(FLAGS_report_data);
  if (o.k < 1 || o.k > 1000 || o.threads < 1 || o.content.dim < 2 || o.als.factors < 2 ||
      o.serving.max_pool < o.k || o.serving.trending_half_life_s <= 0 || o.ease_keep < 0 ||
      o.ease_max_items < 1 || o.ease_max_items > recsys::EaseModel::kMaxItems || o.eval_users < 0 || o.tune_users < 1 || o.ranker_cases < 1 ||
      o.itemknn.max_user_events < 0 || o.index.flat_max_items < 0 ||
      !(o.slist_options.lambda > 0) || !(o.slist_options.alpha >= 0 && o.slist_options.alpha <= 1) ||
      o.serving.slist_inputs.window < 1 || o.serving.slist_inputs.window > 10000 ||
      !(o.serving.slist_inputs.time_floor >= 0 && o.serving.slist_inputs.time_floor <= 1) ||
      o.slist_options.max_items < 1 || o.slist_options.max_items > recsys::EaseModel::kMaxItems ||
      o.slist_options.keep < 0 || o.slist_options.max_rows < 0) {
    LOG(ERROR) << "invalid flags: need 1 <= k <= 1000, threads >= 1, content_dim >= 2, "
                  "als_factors >= 2, max_pool >= k, trending_half_life > 0, ease_keep >= 0, "
                  "1 <= ease_max_items <= 30000, "
                  "eval_users >= 0, tune_users >= 1, ranker_cases >= 1, "
                  "itemknn_max_user_events >= 0, flat_max_items >= 0, slist_lambda > 0, "
                  "0 <= slist_alpha <= 1, 1 <= slist_window <= 10000, 0 <= slist_time_floor <= 1, "
                  "1 <= slist_max_items <= 30000, slist_keep >= 0, slist_max_rows >= 0";
    return 2;
  }
  auto result = recsys::offline::Train(o);
  if (!result.ok()) {
    LOG(ERROR) << "training failed: " << result.status();
    return 1;
  }
  std::cout << recsys::offline::FormatLeaderboard(result->leaderboard);
  std::cout << absl::StrFormat("ranker held-out AUC %.4f\n", result->ranker_auc);
  std::cout << "version " << result->version << " in " << result->seconds << " s";
  if (!result->bundle_dir.empty()) std::cout << " -> " << result->bundle_dir;
  std::cout << "\n";
  return 0;
}
