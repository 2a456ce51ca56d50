#include "offline/trainer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "common/candidates/user_state.h"
#include "common/eval/metrics.h"
#include "common/features/features.h"
#include "common/io/file.h"
#include "common/io/sha256.h"
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
// one small grid per model, cheapest first, within the time budget. Each grid
// leaves the bundle holding its best setting; params end up in `b.params`.
absl::Status Tune(const Dataset& data, const LeaveLastOutSplit& split, TrainOptions* options,
                  std::unique_ptr<ModelBundle>* bundle, v1::BundleManifest* manifest) {
  const absl::Time deadline = absl::Now() + options->tune_budget;
  auto& recorded = *manifest->mutable_parameters();
  const int k = options->k;
  const int threads = options->threads;
  ModelBundle& b = **bundle;
  const int32_t users = data.num_users();
  const int32_t n = b.num_items();

  // Evaluates `apply(c)` for each candidate on `source`; re-applies the best.
  // A grid whose time runs out keeps the best setting seen so far.
  auto grid = [&](const std::string& name, SourceId source, const std::vector<double>& candidates,
                  const std::function<absl::Status(double)>& apply) -> absl::Status {
    double best_ndcg = -1, best = candidates.front();
    for (double c : candidates) {
      if (absl::Now() > deadline) {
        LOG(WARNING) << "tuning budget spent during " << name;
        recorded[absl::StrCat("tuning.truncated.", name)] = "budget";
        break;
      }
      RETURN_IF_ERROR(apply(c));
      const double ndcg = SourceNdcg(b, split, source, k, threads);
      LOG(INFO) << absl::StrFormat("tune %s=%g: validation ndcg@%d %.4f", name, c, k, ndcg);
      if (ndcg > best_ndcg) best_ndcg = ndcg, best = c;
    }
    recorded[absl::StrCat("tuned.", name)] = absl::StrCat(best);
    recorded[absl::StrCat("tuned.", name, ".validation_ndcg")] = absl::StrFormat("%.5f", best_ndcg);
    return apply(best);
  };

  RETURN_IF_ERROR(grid("trending_half_life_days", SourceId::kTrending, {7, 30, 90, 180, 365},
                       [&](double days) {
                         b.params.trending_half_life_s = days * kDay;
                         b.trending = TrendingModel(split.train(), n, days * kDay);
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(grid("profile_half_life_days", SourceId::kContent, {1, 7, 30, 365},
                       [&](double days) {
                         b.params.profile_half_life_s = days * kDay;
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(grid("sequence_window", SourceId::kSequence, {2, 3, 5, 8}, [&](double w) {
    b.params.sequence_window = static_cast<int>(w);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("sequence_blend", SourceId::kSequence, {0.9, 0.95, 0.98, 1.0},
                       [&](double blend) {
                         b.params.sequence_blend = static_cast<float>(blend);
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(grid("itemknn_neighbors", SourceId::kItemKnn, {50, 100, 200}, [&](double nb) {
    options->itemknn.neighbors = static_cast<int>(nb);
    b.itemknn = ItemKnnModel::Fit(split.train(), users, n, options->itemknn);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("itemknn_shrink", SourceId::kItemKnn, {0, 20, 100}, [&](double shrink) {
    options->itemknn.shrink = shrink;
    b.itemknn = ItemKnnModel::Fit(split.train(), users, n, options->itemknn);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("itemknn_recency", SourceId::kItemKnn, {3, 5, 10, 30, 0}, [&](double h) {
    b.params.itemknn_recency = static_cast<float>(h);
    return absl::OkStatus();
  }));
  auto refit_als = [&]() -> absl::Status {
    b.als = AlsModel::Fit(split.train(), users, n, options->als);
    ASSIGN_OR_RETURN(b.als_index, VectorIndex::Build(b.als.item_factors(), n, b.als.factors(),
                                                     VectorIndexOptions{}));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(grid("als_recency", SourceId::kAls, {3, 5, 10, 30, 0}, [&](double h) {
    b.params.als_recency = static_cast<float>(h);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("als_alpha", SourceId::kAls, {0.5, 1, 2, 5}, [&](double alpha) {
    options->als.alpha = alpha;
    return refit_als();
  }));
  RETURN_IF_ERROR(grid("als_factors", SourceId::kAls, {32, 64, 128}, [&](double f) {
    options->als.factors = static_cast<int>(f);
    return refit_als();
  }));
  RETURN_IF_ERROR(grid("als_reg", SourceId::kAls, {0.01, 0.1, 1, 10}, [&](double reg) {
    options->als.reg = reg;
    return refit_als();
  }));
  if (b.ease) {
    RETURN_IF_ERROR(grid("ease_recency", SourceId::kEase, {3, 5, 10, 30, 0}, [&](double h) {
      b.params.ease_recency = static_cast<float>(h);
      return absl::OkStatus();
    }));
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
  p["ease.keep"] = absl::StrCat(o.ease_keep);
  p["markov.top_n"] = absl::StrCat(o.markov_top_n);
  p["ranker.l2"] = absl::StrCat(o.ranker.l2);
  p["tune_budget_s"] = absl::StrCat(absl::ToDoubleSeconds(o.tune_budget));
}

// One pseudo-document per item: a token per training user who consumed it.
std::vector<ItemInfo> CoConsumptionDocuments(int32_t num_items,
                                             std::span<const Interaction> events) {
  std::vector<ItemInfo> docs(static_cast<size_t>(num_items));
  for (const Interaction& e : events) {
    if (e.item < 0 || e.item >= num_items) continue;
    ItemInfo& d = docs[e.item];
    absl::StrAppend(&d.text, d.text.empty() ? "" : " ", "user", e.user);
    d.has_metadata = true;
  }
  return docs;
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
  // Without any item text (e.g. the generic layout without items.csv) the
  // content model describes each item by who consumed it in training instead:
  // LSA of the item x user matrix, a collaborative embedding. The content and
  // sequence sources and their features keep working; Search finds nothing.
  const bool any_metadata =
      std::any_of(data.item_info.begin(), data.item_info.end(),
                  [](const ItemInfo& info) { return info.has_metadata; });
  if (!any_metadata) {
    LOG(WARNING) << "no item metadata: content model built from co-consumption "
                    "(item x user LSA); Search will return nothing";
  }
  ASSIGN_OR_RETURN(b->content,
                   ContentModel::Fit(any_metadata ? data.item_info
                                                  : CoConsumptionDocuments(n, events),
                                     options.content));
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
    ASSIGN_OR_RETURN(EaseModel ease,
                     EaseModel::Fit(events, users, n, options.ease_lambda, options.ease_keep));
    b->ease = std::move(ease);
    LOG(INFO) << "fit ease (" << absl::FormatDuration(absl::Now() - t0) << ")";
  }
  b->trending = TrendingModel(events, n, serving.trending_half_life_s);
  b->markov = FitMarkovTransitions(events, users, n, options.markov_top_n);
  b->histories = UserHistories::FromEvents(data, events);
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
    RETURN_IF_ERROR(Tune(data, split, &options, &bundle, &manifest));
    LOG(INFO) << "tuning done in " << absl::FormatDuration(absl::Now() - t0);
  }
  serving = bundle->params;

  // Ranker: trained on the validation pools (label 1 = the validation target).
  std::vector<LeaderboardRow> rows;
  PassOutput val = EvaluatePass(*bundle, split, SplitName::kValidation, options.k,
                                options.threads, /*with_ranker=*/false, /*collect_rows=*/true, &rows);
  if (val.labels.empty()) {
    return absl::FailedPreconditionError("no validation target reached the candidate pool");
  }
  // Objective choice and held-out AUC: every fifth validation user is held out
  // of a first fit of each objective; the one with the better held-out NDCG@k
  // is refit on every row.
  FeatureMatrix fit_x, held_x;
  std::vector<uint8_t> fit_y, held_y;
  std::vector<int32_t> fit_g, held_g;
  {
    std::vector<int64_t> fit_rows, held_rows;
    for (size_t r = 0; r < val.labels.size(); ++r) {
      (val.group[r] % 5 == 4 ? held_rows : fit_rows).push_back(static_cast<int64_t>(r));
    }
    auto take = [&](const std::vector<int64_t>& rows, FeatureMatrix* x, std::vector<uint8_t>* y,
                    std::vector<int32_t>* g) {
      x->resize(static_cast<Eigen::Index>(rows.size()), kNumFeatures);
      for (size_t i = 0; i < rows.size(); ++i) {
        x->row(static_cast<Eigen::Index>(i)) = val.features.row(rows[i]);
        y->push_back(val.labels[rows[i]]);
        g->push_back(val.group[rows[i]]);
      }
    };
    take(fit_rows, &fit_x, &fit_y, &fit_g);
    take(held_rows, &held_x, &held_y, &held_g);
  }
  // NDCG@k of the labelled row within each held-out group.
  auto held_ndcg = [&](const LogisticRanker& model, std::vector<float>* scores) {
    model.Margins(held_x, scores);
    double sum = 0;
    int groups = 0;
    for (size_t a = 0; a < held_g.size();) {
      size_t b = a;
      while (b < held_g.size() && held_g[b] == held_g[a]) ++b;
      for (size_t i = a; i < b; ++i) {
        if (!held_y[i]) continue;
        int rank = 0;
        for (size_t j = a; j < b; ++j) {
          rank += (*scores)[j] > (*scores)[i] || ((*scores)[j] == (*scores)[i] && j < i);
        }
        if (rank < options.k) sum += 1.0 / std::log2(rank + 2.0);
      }
      ++groups;
      a = b;
    }
    return groups ? sum / groups : 0.0;
  };
  std::vector<float> point_scores, list_scores;
  const double point_ndcg =
      held_ndcg(LogisticRanker::Fit(fit_x, fit_y, options.ranker), &point_scores);
  const double list_ndcg =
      held_ndcg(LogisticRanker::FitListwise(fit_x, fit_y, fit_g, options.ranker), &list_scores);
  const bool listwise = list_ndcg >= point_ndcg;
  const double auc = Auc(listwise ? list_scores : point_scores, held_y);
  LOG(INFO) << absl::StrFormat(
      "ranker: %d rows; held-out ndcg@%d pointwise %.4f, listwise %.4f -> %s; held-out AUC %.4f",
      val.labels.size(), options.k, point_ndcg, list_ndcg, listwise ? "listwise" : "pointwise",
      auc);
  (*manifest.mutable_parameters())["ranker.objective"] = listwise ? "listwise" : "pointwise";
  (*manifest.mutable_parameters())["ranker.heldout_ndcg"] =
      absl::StrFormat("%.5f", listwise ? list_ndcg : point_ndcg);
  bundle->ranker = listwise
                       ? LogisticRanker::FitListwise(val.features, val.labels, val.group, options.ranker)
                       : LogisticRanker::Fit(val.features, val.labels, options.ranker);

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
