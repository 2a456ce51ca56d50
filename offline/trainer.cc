#include "offline/trainer.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/bundle/array_file.h"
#include "common/bundle/registry.h"
#include "common/candidates/user_state.h"
#include "common/eval/metrics.h"
#include "common/features/features.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/status.h"
#include "offline/baselines.h"

namespace recsys::offline {
namespace {

constexpr double kDay = 86400.0;

// Runs fn(case_index, thread) over the cases, case i on thread i % threads.
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

std::vector<Interaction> HistoryOf(const LeaveLastOutSplit& split, const EvalCase& c) {
  auto h = split.history(c);
  return std::vector<Interaction>(h.begin(), h.end());
}

std::vector<ItemIndex> Items(std::span<const ScoredIndex> list, size_t k) {
  std::vector<ItemIndex> out;
  for (size_t i = 0; i < list.size() && i < k; ++i) out.push_back(list[i].item);
  return out;
}

LeaderboardRow Row(SplitName which, const std::string& model, int k, const MetricAccumulator& a) {
  LeaderboardRow r;
  r.split = SplitNameString(which);
  r.model = model;
  r.k = k;
  r.recall = a.recall();
  r.ndcg = a.ndcg();
  r.map = a.map();
  r.coverage = a.coverage();
  r.users = a.users();
  return r;
}

// Validation NDCG@k of one source alone.
double SourceNdcg(const ModelBundle& bundle, const LeaveLastOutSplit& split, SourceId source, int k,
                  int threads) {
  const auto& cases = split.cases(SplitName::kValidation);
  std::vector<MetricAccumulator> acc(std::max(1, threads), MetricAccumulator(k, bundle.num_items()));
  ParallelCases(cases.size(), threads, [&](size_t i, int t) {
    const EvalCase& c = cases[i];
    const Interaction& target = split.target(c);
    UserState st = BuildUserState(bundle, HistoryOf(split, c), target.timestamp_s, {});
    auto list = SourceCandidates(bundle, st, source, k);
    const ItemIndex rel[1] = {target.item};
    acc[t].Add(list.ok() ? Items(*list, k) : std::vector<ItemIndex>{}, rel);
  });
  for (size_t t = 1; t < acc.size(); ++t) acc[0].Merge(acc[t]);
  return acc[0].ndcg();
}

std::string DataFingerprint(const LoadReport& report) {
  std::string all;
  for (const std::string& f : report.files) {
    auto sha = Sha256File(f);
    absl::StrAppend(&all, f.substr(f.find_last_of('/') + 1), ":", sha.ok() ? *sha : "?", ";");
  }
  return Sha256Hex(all);
}

// Tunes serving parameters and model hyper-parameters on validation NDCG@k,
// one small grid per model, cheapest first, within the time budget.
absl::Status Tune(const Dataset& data, const LeaveLastOutSplit& split, TrainOptions* options,
                  ServingParams* serving, std::unique_ptr<ModelBundle>* bundle,
                  v1::BundleManifest* manifest) {
  const absl::Time deadline = absl::Now() + options->tune_budget;
  auto& params = *manifest->mutable_parameters();
  auto over = [&](const char* what) {
    if (absl::Now() < deadline) return false;
    LOG(WARNING) << "tuning budget spent: " << what << " keeps its default";
    params[absl::StrCat("tuning.skipped.", what)] = "budget";
    return true;
  };
  const int k = options->k;
  const int threads = options->threads;
  ModelBundle& b = **bundle;

  // Trending half-life.
  if (!over("trending")) {
    double best = -1, best_h = serving->trending_half_life_s;
    for (double days : {1.0, 3.0, 7.0, 30.0, 90.0}) {
      b.trending = TrendingModel(split.train(), b.num_items(), days * kDay);
      const double ndcg = SourceNdcg(b, split, SourceId::kTrending, k, threads);
      LOG(INFO) << absl::StrFormat("tune trending half_life=%gd ndcg@%d=%.4f", days, k, ndcg);
      if (ndcg > best) best = ndcg, best_h = days * kDay;
    }
    serving->trending_half_life_s = best_h;
    b.trending = TrendingModel(split.train(), b.num_items(), best_h);
  }
  // Content profile half-life.
  if (!over("content")) {
    double best = -1, best_h = serving->profile_half_life_s;
    for (double days : {3.0, 30.0, 365.0, 3650.0}) {
      b.params.profile_half_life_s = days * kDay;
      const double ndcg = SourceNdcg(b, split, SourceId::kContent, k, threads);
      LOG(INFO) << absl::StrFormat("tune content profile_half_life=%gd ndcg@%d=%.4f", days, k, ndcg);
      if (ndcg > best) best = ndcg, best_h = days * kDay;
    }
    serving->profile_half_life_s = best_h;
    b.params.profile_half_life_s = best_h;
  }
  // Sequence: window and Markov/content blend.
  if (!over("sequence")) {
    double best = -1;
    ServingParams chosen = *serving;
    for (int window : {1, 2, 3}) {
      for (float blend : {0.6f, 0.8f, 0.95f}) {
        b.params.sequence_window = window;
        b.params.sequence_blend = blend;
        const double ndcg = SourceNdcg(b, split, SourceId::kSequence, k, threads);
        LOG(INFO) << absl::StrFormat("tune sequence window=%d blend=%.2f ndcg@%d=%.4f", window,
                                     blend, k, ndcg);
        if (ndcg > best) best = ndcg, chosen.sequence_window = window, chosen.sequence_blend = blend;
      }
    }
    serving->sequence_window = chosen.sequence_window;
    serving->sequence_blend = chosen.sequence_blend;
    b.params.sequence_window = chosen.sequence_window;
    b.params.sequence_blend = chosen.sequence_blend;
  }
  // Item-kNN shrinkage and neighbourhood size.
  if (!over("itemknn")) {
    double best = -1;
    ItemKnnParams chosen = options->itemknn;
    for (int neighbors : {50, 200}) {
      for (double shrink : {0.0, 20.0, 100.0}) {
        if (absl::Now() > deadline) break;
        ItemKnnParams p = options->itemknn;
        p.neighbors = neighbors;
        p.shrink = shrink;
        b.itemknn = ItemKnnModel::Fit(split.train(), data.num_users(), b.num_items(), p);
        const double ndcg = SourceNdcg(b, split, SourceId::kItemKnn, k, threads);
        LOG(INFO) << absl::StrFormat("tune itemknn neighbors=%d shrink=%g ndcg@%d=%.4f", neighbors,
                                     shrink, k, ndcg);
        if (ndcg > best) best = ndcg, chosen = p;
      }
    }
    options->itemknn = chosen;
    b.itemknn = ItemKnnModel::Fit(split.train(), data.num_users(), b.num_items(), chosen);
  }
  // ALS factors and confidence scale.
  if (!over("als")) {
    double best = -1;
    AlsParams chosen = options->als;
    for (int factors : {64, 128}) {
      for (double alpha : {5.0, 20.0}) {
        if (absl::Now() > deadline) break;
        AlsParams p = options->als;
        p.factors = factors;
        p.alpha = alpha;
        b.als = AlsModel::Fit(split.train(), data.num_users(), b.num_items(), p);
        ASSIGN_OR_RETURN(b.als_index, VectorIndex::Build(b.als.item_factors(), b.num_items(),
                                                         b.als.factors(), VectorIndexOptions{}));
        const double ndcg = SourceNdcg(b, split, SourceId::kAls, k, threads);
        LOG(INFO) << absl::StrFormat("tune als factors=%d alpha=%g ndcg@%d=%.4f", factors, alpha,
                                     k, ndcg);
        if (ndcg > best) best = ndcg, chosen = p;
      }
    }
    options->als = chosen;
    b.als = AlsModel::Fit(split.train(), data.num_users(), b.num_items(), chosen);
    ASSIGN_OR_RETURN(b.als_index, VectorIndex::Build(b.als.item_factors(), b.num_items(),
                                                     b.als.factors(), VectorIndexOptions{}));
  }
  // EASE regularisation (the costliest fit: last).
  if (b.ease && !over("ease")) {
    double best = -1;
    double chosen = options->ease_lambda;
    for (double lambda : {200.0, 1000.0, 3000.0}) {
      if (absl::Now() > deadline) break;
      ASSIGN_OR_RETURN(EaseModel ease, EaseModel::Fit(split.train(), data.num_users(),
                                                      b.num_items(), lambda));
      b.ease = std::move(ease);
      const double ndcg = SourceNdcg(b, split, SourceId::kEase, k, threads);
      LOG(INFO) << absl::StrFormat("tune ease lambda=%g ndcg@%d=%.4f", lambda, k, ndcg);
      if (ndcg > best) best = ndcg, chosen = lambda;
    }
    options->ease_lambda = chosen;
    ASSIGN_OR_RETURN(EaseModel ease, EaseModel::Fit(split.train(), data.num_users(),
                                                    b.num_items(), chosen));
    b.ease = std::move(ease);
  }
  return absl::OkStatus();
}

void RecordParams(const TrainOptions& o, v1::BundleManifest* m) {
  auto& p = *m->mutable_parameters();
  p["seed"] = absl::StrCat(o.seed);
  p["k"] = absl::StrCat(o.k);
  p["content.dim"] = absl::StrCat(o.content.dim);
  p["content.min_df"] = absl::StrCat(o.content.min_df);
  p["itemknn.neighbors"] = absl::StrCat(o.itemknn.neighbors);
  p["itemknn.shrink"] = absl::StrCat(o.itemknn.shrink);
  p["als.factors"] = absl::StrCat(o.als.factors);
  p["als.reg"] = absl::StrCat(o.als.reg);
  p["als.alpha"] = absl::StrCat(o.als.alpha);
  p["als.iterations"] = absl::StrCat(o.als.iterations);
  p["ease.enabled"] = o.ease ? "1" : "0";
  p["ease.lambda"] = absl::StrCat(o.ease_lambda);
  p["markov.top_n"] = absl::StrCat(o.markov_top_n);
  p["ranker.l2"] = absl::StrCat(o.ranker.l2);
  p["tune_budget_s"] = absl::StrCat(absl::ToDoubleSeconds(o.tune_budget));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelBundle>> FitBundle(const Dataset& data,
                                                       std::span<const Interaction> events,
                                                       const TrainOptions& options,
                                                       const ServingParams& serving) {
  auto b = std::make_unique<ModelBundle>();
  b->params = serving;
  b->catalogue = BuildCatalogue(data, events);
  const int32_t n = b->num_items();
  const int32_t users = data.num_users();
  absl::Time t0 = absl::Now();
  ASSIGN_OR_RETURN(b->content, ContentModel::Fit(data.item_info, options.content));
  ASSIGN_OR_RETURN(b->content_index, VectorIndex::Build(b->content.item_embeddings(), n,
                                                        b->content.dim(), VectorIndexOptions{}));
  LOG(INFO) << "fit content: dim " << b->content.dim() << ", vocabulary "
            << b->content.vocabulary_size() << " (" << absl::FormatDuration(absl::Now() - t0) << ")";
  t0 = absl::Now();
  b->itemknn = ItemKnnModel::Fit(events, users, n, options.itemknn);
  LOG(INFO) << "fit itemknn (" << absl::FormatDuration(absl::Now() - t0) << ")";
  t0 = absl::Now();
  b->als = AlsModel::Fit(events, users, n, options.als);
  ASSIGN_OR_RETURN(b->als_index,
                   VectorIndex::Build(b->als.item_factors(), n, b->als.factors(), VectorIndexOptions{}));
  LOG(INFO) << "fit als (" << absl::FormatDuration(absl::Now() - t0) << ")";
  if (options.ease && n <= options.ease_max_items) {
    t0 = absl::Now();
    ASSIGN_OR_RETURN(EaseModel ease, EaseModel::Fit(events, users, n, options.ease_lambda));
    b->ease = std::move(ease);
    LOG(INFO) << "fit ease (" << absl::FormatDuration(absl::Now() - t0) << ")";
  }
  b->trending = TrendingModel(events, n, serving.trending_half_life_s);
  b->markov = FitMarkovTransitions(events, users, n, options.markov_top_n);
  return b;
}

PassOutput EvaluatePass(const ModelBundle& bundle, const LeaveLastOutSplit& split, SplitName which,
                        int k, int threads, bool with_ranker, bool collect_rows,
                        std::vector<LeaderboardRow>* rows) {
  const auto& cases = split.cases(which);
  threads = std::max(1, threads);
  const int32_t n = bundle.num_items();
  const int max_pool = bundle.params.max_pool;
  struct Local {
    std::vector<MetricAccumulator> sources;
    MetricAccumulator pool;
    MetricAccumulator two_stage;
    int64_t pool_size = 0;
  };
  std::vector<Local> local;
  for (int t = 0; t < threads; ++t) {
    local.push_back(Local{std::vector<MetricAccumulator>(kNumSources, MetricAccumulator(k, n)),
                          MetricAccumulator(max_pool, n), MetricAccumulator(k, n), 0});
  }
  std::vector<FeatureMatrix> case_rows(collect_rows ? cases.size() : 0);
  std::vector<std::vector<uint8_t>> case_labels(collect_rows ? cases.size() : 0);
  Progress progress(absl::StrCat("evaluate ", SplitNameString(which)), static_cast<int64_t>(cases.size()));
  ParallelCases(cases.size(), threads, [&](size_t i, int t) {
    const EvalCase& c = cases[i];
    const Interaction& target = split.target(c);
    const ItemIndex rel[1] = {target.item};
    UserState st = BuildUserState(bundle, HistoryOf(split, c), target.timestamp_s, {});
    std::array<std::vector<ScoredIndex>, kNumSources> lists;
    for (int s = 0; s < kNumSources; ++s) {
      const SourceId id = static_cast<SourceId>(s);
      if (id == SourceId::kEase && !bundle.ease) continue;
      const int quota = std::max(bundle.params.quotas[s], k);
      auto list = SourceCandidates(bundle, st, id, quota);
      if (list.ok()) lists[s] = std::move(*list);
      local[t].sources[s].Add(Items(lists[s], k), rel);
      if (static_cast<int>(lists[s].size()) > bundle.params.quotas[s]) {
        lists[s].resize(std::max(bundle.params.quotas[s], 0));
      }
    }
    const std::vector<PooledCandidate> pool = MergePool(lists, max_pool);
    std::vector<ItemIndex> pool_items;
    for (const auto& p : pool) pool_items.push_back(p.item);
    local[t].pool.Add(pool_items, rel);
    local[t].pool_size += static_cast<int64_t>(pool.size());
    const bool hit = std::find(pool_items.begin(), pool_items.end(), target.item) != pool_items.end();
    if (collect_rows && hit) {
      ComputeFeatures(bundle, st, pool, &case_rows[i]);
      case_labels[i].resize(pool.size());
      for (size_t r = 0; r < pool.size(); ++r) case_labels[i][r] = pool[r].item == target.item;
    }
    if (with_ranker) local[t].two_stage.Add(Items(RankPool(bundle, st, pool, k), k), rel);
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
    const SourceId id = static_cast<SourceId>(s);
    if (id == SourceId::kEase && !bundle.ease) continue;
    rows->push_back(Row(which, SourceName(id), k, local[0].sources[s]));
  }
  LeaderboardRow pool_row = Row(which, "pool", max_pool, local[0].pool);
  LOG(INFO) << SplitNameString(which) << " pool: mean size "
            << (cases.empty() ? 0.0 : static_cast<double>(local[0].pool_size) / cases.size())
            << ", recall@pool " << pool_row.recall;
  rows->push_back(pool_row);
  if (with_ranker) rows->push_back(Row(which, "two_stage", k, local[0].two_stage));

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

absl::StatusOr<TrainResult> Train(const TrainOptions& input_options) {
  TrainOptions options = input_options;
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(Dataset data, LoadDataset(options.data_dir, options.load));
  const LoadReport& report = data.report;
  LOG(INFO) << "loaded " << options.data_dir << " (" << DataFormatName(report.format) << "): "
            << data.num_users() << " users, " << data.num_items() << " items, "
            << data.interactions.size() << " interactions, " << report.bad_lines
            << " bad lines skipped, " << report.unknown_item_refs << " unknown item references";
  for (const std::string& m : report.bad_line_messages) LOG(WARNING) << "skipped " << m;
  LeaveLastOutSplit split(data);
  LOG(INFO) << "split: " << split.train().size() << " training events, "
            << split.cases(SplitName::kTest).size() << " evaluation users";
  if (split.cases(SplitName::kTest).empty()) {
    return absl::FailedPreconditionError("no user has 3 or more events: nothing to evaluate");
  }

  v1::BundleManifest manifest;
  ServingParams serving = options.serving;
  ASSIGN_OR_RETURN(std::unique_ptr<ModelBundle> bundle,
                   FitBundle(data, split.train(), options, serving));
  if (options.tune_budget > absl::ZeroDuration()) {
    const absl::Time t0 = absl::Now();
    RETURN_IF_ERROR(Tune(data, split, &options, &serving, &bundle, &manifest));
    LOG(INFO) << "tuning done in " << absl::FormatDuration(absl::Now() - t0);
  }
  bundle->params = serving;

  // Ranker: trained on the validation pools (label 1 = the validation target).
  std::vector<LeaderboardRow> rows;
  PassOutput val = EvaluatePass(*bundle, split, SplitName::kValidation, options.k,
                                options.threads, /*with_ranker=*/false, /*collect_rows=*/true, &rows);
  if (val.labels.empty()) {
    return absl::FailedPreconditionError("no validation target reached the candidate pool");
  }
  // Held-out AUC: every fifth validation user is held out of a first fit.
  FeatureMatrix fit_x, held_x;
  std::vector<uint8_t> fit_y, held_y;
  {
    std::vector<int64_t> fit_rows, held_rows;
    for (size_t r = 0; r < val.labels.size(); ++r) {
      (val.group[r] % 5 == 4 ? held_rows : fit_rows).push_back(static_cast<int64_t>(r));
    }
    fit_x.resize(static_cast<Eigen::Index>(fit_rows.size()), kNumFeatures);
    held_x.resize(static_cast<Eigen::Index>(held_rows.size()), kNumFeatures);
    for (size_t i = 0; i < fit_rows.size(); ++i) {
      fit_x.row(i) = val.features.row(fit_rows[i]);
      fit_y.push_back(val.labels[fit_rows[i]]);
    }
    for (size_t i = 0; i < held_rows.size(); ++i) {
      held_x.row(i) = val.features.row(held_rows[i]);
      held_y.push_back(val.labels[held_rows[i]]);
    }
  }
  const LogisticRanker probe = LogisticRanker::Fit(fit_x, fit_y, options.ranker);
  std::vector<float> held_scores;
  probe.Score(held_x, &held_scores);
  const double auc = Auc(held_scores, held_y);
  LOG(INFO) << "ranker: " << val.labels.size() << " rows, held-out AUC " << auc;
  bundle->ranker = LogisticRanker::Fit(val.features, val.labels, options.ranker);

  // Leaderboard: baselines, every source, pool, two-stage; validation and test.
  std::vector<LeaderboardRow> board;
  RandomModel random(data.num_items(), options.seed);
  PopularityModel popularity(split.train(), data.num_items());
  EvalOptions eval_options{options.k, options.threads};
  for (SplitName s : {SplitName::kValidation, SplitName::kTest}) {
    board.push_back(Evaluate(random, split, s, data.num_items(), eval_options));
    board.push_back(Evaluate(popularity, split, s, data.num_items(), eval_options));
    std::vector<LeaderboardRow> pass_rows;
    EvaluatePass(*bundle, split, s, options.k, options.threads, /*with_ranker=*/true,
                 /*collect_rows=*/false, &pass_rows);
    board.insert(board.end(), pass_rows.begin(), pass_rows.end());
  }

  TrainResult result;
  result.leaderboard = board;
  result.ranker_auc = auc;
  std::cout << FormatLeaderboard(board);
  std::cout << absl::StrFormat("ranker held-out AUC %.4f\n", auc);
  if (!options.json_path.empty()) {
    RETURN_IF_ERROR(WriteFileDurably(options.json_path, LeaderboardJson(board)));
  }

  if (options.production) {
    LOG(INFO) << "refitting every model on all " << data.interactions.size() << " events";
    ASSIGN_OR_RETURN(std::unique_ptr<ModelBundle> full,
                     FitBundle(data, data.interactions, options, serving));
    full->ranker = bundle->ranker;
    bundle = std::move(full);
  }

  RecordParams(options, &manifest);
  manifest.set_format_version(kBundleFormatVersion);
  manifest.set_name(options.name);
  manifest.set_version(NewVersionId(absl::Now(), options.seed ^ static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()))));
  manifest.set_created_at(absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));
  manifest.set_kind(options.production ? "production" : "evaluation");
  manifest.set_data_fingerprint(DataFingerprint(report));
  manifest.set_data_format(DataFormatName(report.format));
  manifest.set_num_users(data.num_users());
  manifest.set_num_items(data.num_items());
  manifest.set_num_interactions(static_cast<int64_t>(data.interactions.size()));
  manifest.set_ranker_auc(auc);
  for (const LeaderboardRow& r : board) {
    v1::LeaderboardRow* p = manifest.add_leaderboard();
    p->set_split(r.split);
    p->set_model(r.model);
    p->set_k(r.k);
    p->set_recall(r.recall);
    p->set_ndcg(r.ndcg);
    p->set_map(r.map);
    p->set_coverage(r.coverage);
    p->set_users(r.users);
  }
  result.version = manifest.version();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  manifest.set_train_seconds(result.seconds);

  if (options.publish) {
    Registry registry(options.registry, options.name);
    ASSIGN_OR_RETURN(std::string staging, registry.BeginVersion());
    absl::Status saved = bundle->Save(staging, &manifest);
    if (saved.ok()) saved = registry.CommitVersion(staging, manifest);
    if (!saved.ok()) {
      registry.AbortVersion(staging).IgnoreError();
      return saved;
    }
    RETURN_IF_ERROR(registry.AppendRunRecord(manifest));
    result.bundle_dir = registry.VersionDir(manifest.version());
    LOG(INFO) << "published " << options.name << " version " << manifest.version() << " ("
              << manifest.kind() << ") to " << result.bundle_dir;
  }
  return result;
}

}  // namespace recsys::offline
