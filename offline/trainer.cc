#include "offline/trainer.h"

#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/io/file.h"
#include "common/log.h"
#include "common/process_memory.h"
#include "common/status.h"
#include "offline/baselines.h"
#include "offline/bundle_manifest.h"
#include "offline/diagnostics.h"
#include "offline/publish.h"
#include "offline/ranker_selection.h"
#include "offline/tuning.h"

namespace recsys::offline {
namespace {

// The one line that closes a phase: the wall time since training started and
// the process's resident and peak resident memory (the peak is what a memory
// limit has to allow).
void LogPhaseMemory(const std::string& phase, absl::Time start) {
  const ProcessMemory m = ReadProcessMemory();
  LOG(INFO) << absl::StrFormat("done %s at %.1fs: memory resident %.2f GB, peak %.2f GB", phase,
                               absl::ToDoubleSeconds(absl::Now() - start),
                               m.resident_bytes / 1e9, m.peak_resident_bytes / 1e9);
}

// Baselines, every source, pool and two-stage list, on validation then test.
std::vector<LeaderboardRow> Leaderboard(const Dataset& data, const LeaveLastOutSplit& split,
                                        const ModelBundle& bundle, const TrainOptions& options) {
  std::vector<LeaderboardRow> board;
  RandomModel random(data.num_items(), options.seed);
  PopularityModel popularity(split.train(), data.num_items());
  // The baselines' lists are measured against the same embeddings and
  // popularity as the bundle's sources.
  const ListQuality quality = BundleListQuality(bundle);
  EvalOptions eval_options{options.k, options.threads, &quality};
  for (SplitName s : {SplitName::kValidation, SplitName::kTest}) {
    board.push_back(Evaluate(random, split, s, data.num_items(), eval_options));
    board.push_back(Evaluate(popularity, split, s, data.num_items(), eval_options));
    EvaluatePass(bundle, split, s, options.k, options.threads, /*with_ranker=*/true,
                 /*collect_rows=*/false, &board);
  }
  return board;
}

}  // namespace

absl::StatusOr<TrainResult> Train(const TrainOptions& input_options) {
  TrainOptions options = input_options;
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(Dataset data, LoadDataset(options.data_dir, options.load));
  const LoadReport& report = data.report;
  LOG(INFO) << "loaded " << options.data_dir << " (" << DataFormatName(report.format)
            << "): " << data.num_users() << " users, " << data.num_items() << " items, "
            << data.interactions.size() << " interactions, " << report.bad_lines
            << " bad lines skipped, " << report.unknown_item_refs << " unknown item references";
  for (const std::string& m : report.bad_line_messages) LOG(WARNING) << "skipped " << m;
  LeaveLastOutSplit split(data, SplitOptions{options.eval_users, options.seed});
  LOG(INFO) << "split: " << split.train().size() << " training events, "
            << split.cases(SplitName::kTest).size() << " evaluation users"
            << (split.sampled()
                    ? absl::StrCat(" (a sample of ", split.eligible_users(),
                                   "; leaderboard figures are estimates, 95% intervals shown)")
                    : std::string());
  const int64_t num_interactions = static_cast<int64_t>(data.interactions.size());
  if (!options.production) {
    // The split holds the training events and the evaluated users' events;
    // only the production refit needs the whole log again.
    std::vector<Interaction>().swap(data.interactions);
  }
  LogPhaseMemory("load and split", start);
  if (split.cases(SplitName::kTest).empty()) {
    return absl::FailedPreconditionError("no user has 3 or more events: nothing to evaluate");
  }

  v1::BundleManifest manifest;
  ServingParams serving = options.serving;
  FitTimes fit_times;
  ASSIGN_OR_RETURN(std::unique_ptr<ModelBundle> bundle,
                   FitBundle(data, split.train(), options, serving, &fit_times));
  LogPhaseMemory("fit", start);
  if (options.tune_budget > absl::ZeroDuration()) {
    const absl::Time t0 = absl::Now();
    ASSIGN_OR_RETURN(TunedModels tuned, Tune(data, split, options, fit_times, bundle.get(),
                                             manifest.mutable_parameters()));
    options.itemknn = tuned.itemknn;
    options.als = tuned.als;
    LOG(INFO) << "tuning done in " << absl::FormatDuration(absl::Now() - t0);
    LogPhaseMemory("tuning", start);
  }
  serving = bundle->params;

  // Ranker: trained on the pools of a sample of validation users (label 1 =
  // the validation target); the pass's own leaderboard rows are not kept.
  std::vector<LeaderboardRow> rows;
  const std::vector<EvalCase> ranker_cases =
      SampleCases(split.cases(SplitName::kValidation), options.ranker_cases, options.seed + 1);
  PassOutput val =
      EvaluatePass(*bundle, split, ranker_cases, SplitName::kValidation, options.k,
                   options.threads, /*with_ranker=*/false, /*collect_rows=*/true, &rows);
  if (val.labels.empty()) {
    return absl::FailedPreconditionError("no validation target reached the candidate pool");
  }
  RankerChoice ranker = SelectAndFitRanker(val, options.k, options.ranker);
  const double auc = ranker.heldout_auc;
  LOG(INFO) << absl::StrFormat(
      "ranker: %d rows; held-out ndcg@%d pointwise %.4f, listwise %.4f -> %s; held-out AUC %.4f",
      val.labels.size(), options.k, ranker.pointwise_ndcg, ranker.listwise_ndcg,
      ranker.listwise ? "listwise" : "pointwise", auc);
  (*manifest.mutable_parameters())["ranker.objective"] = ranker.listwise ? "listwise" : "pointwise";
  (*manifest.mutable_parameters())["ranker.heldout_ndcg"] =
      absl::StrFormat("%.5f", ranker.heldout_ndcg);
  const std::string final_order =
      ranker.blend_source < 0
          ? std::string("ranker")
          : absl::StrFormat("ranker + %g sd of rrank_%s", ranker.blend_weight,
                            SourceName(static_cast<SourceId>(ranker.blend_source)));
  LOG(INFO) << absl::StrFormat(
      "final list: %s, held-out ndcg@%d %.4f (ranker %.4f; best single source %s %.4f)",
      final_order, options.k, ranker.final_ndcg, ranker.heldout_ndcg,
      ranker.best_source < 0 ? "-" : SourceName(static_cast<SourceId>(ranker.best_source)),
      ranker.best_source_ndcg);
  auto& params = *manifest.mutable_parameters();
  params["ranker.final"] = final_order;
  params["ranker.final_heldout_ndcg"] = absl::StrFormat("%.5f", ranker.final_ndcg);
  params["ranker.best_source"] =
      ranker.best_source < 0 ? "" : SourceName(static_cast<SourceId>(ranker.best_source));
  params["ranker.best_source_heldout_ndcg"] = absl::StrFormat("%.5f", ranker.best_source_ndcg);
  bundle->ranker = std::move(ranker.model);
  val = PassOutput{};
  LogPhaseMemory("ranker", start);

  const std::vector<LeaderboardRow> board = Leaderboard(data, split, *bundle, options);
  LogPhaseMemory("evaluation", start);
  TrainResult result;
  result.leaderboard = board;
  result.ranker_auc = auc;
  if (!options.json_path.empty()) {
    RETURN_IF_ERROR(WriteFileDurably(options.json_path, LeaderboardJson(board)));
  }
  if (!options.diagnostics_path.empty()) {
    const Diagnostics diagnostics = Diagnose(*bundle, split, split.cases(SplitName::kTest),
                                             SplitName::kTest, options.k, options.threads);
    RETURN_IF_ERROR(WriteFileDurably(options.diagnostics_path,
                                     DiagnosticsJson(diagnostics, *bundle, final_order)));
  }

  if (options.production) {
    LOG(INFO) << "refitting every model on all " << num_interactions << " events";
    ASSIGN_OR_RETURN(std::unique_ptr<ModelBundle> full,
                     FitBundle(data, data.interactions, options, serving));
    full->ranker = bundle->ranker;
    bundle = std::move(full);
    LogPhaseMemory("production refit", start);
  }

  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  FillManifest(options, data, TrainingOutcome{board, auc, result.seconds, num_interactions}, absl::Now(), &manifest);
  result.version = manifest.version();

  if (options.publish) {
    const CaseResults case_results = CollectCaseResults(data, split, board);
    ASSIGN_OR_RETURN(result.bundle_dir, PublishBundle(*bundle, options.registry, options.name,
                                                      &manifest, &case_results));
    LogPhaseMemory("publish", start);
    LOG(INFO) << "published " << options.name << " version " << manifest.version() << " ("
              << manifest.kind() << ") to " << result.bundle_dir;
  }
  return result;
}

}  // namespace recsys::offline
