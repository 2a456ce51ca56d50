#include "offline/tuning.h"

#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/vlog.h"
#include "common/status.h"
#include "offline/evaluate_pass.h"

namespace recsys::offline {
namespace {

constexpr double kDay = 86400.0;

}  // namespace

absl::StatusOr<TunedModels> Tune(const Dataset& data, const LeaveLastOutSplit& split,
                                 const TrainOptions& options, const FitTimes& fit_times,
                                 ModelBundle* bundle,
                                 google::protobuf::Map<std::string, std::string>* recorded_map) {
  const absl::Time deadline = absl::Now() + options.tune_budget;
  auto& recorded = *recorded_map;
  const int k = options.k;
  const int threads = options.threads;
  ModelBundle& b = *bundle;
  TunedModels tuned{options.itemknn, options.als};
  const int32_t users = data.num_users();
  const int32_t n = b.num_items();
  const std::vector<EvalCase> cases =
      SampleCases(split.cases(SplitName::kValidation), options.tune_users, options.seed);
  recorded["tuning.users"] = absl::StrCat(cases.size());
  LOG(INFO) << "tuning on " << cases.size() << " validation users within "
            << absl::FormatDuration(options.tune_budget);
  // The last evaluation's duration: the estimate for the next one.
  absl::Duration eval_cost = absl::ZeroDuration();

  // Evaluates `apply(c)` for each candidate on `source`; leaves the best one
  // applied. `refit` estimates what one apply costs (zero for serving
  // parameters). A candidate is tried only when its apply, its evaluation and
  // (unless it turns out best) re-applying the best fit in what is left of the
  // budget; an evaluation that the deadline interrupts is discarded. So the
  // budget holds inside a grid, up to the error of these estimates.
  auto grid = [&](const std::string& name, SourceId source, const std::vector<double>& candidates,
                  absl::Duration refit,
                  const std::function<absl::Status(double)>& apply) -> absl::Status {
    double best_ndcg = -1, best = candidates.front();
    std::vector<std::string> tried;  // "value: ndcg" per evaluated candidate
    bool applied_best = false;  // is the bundle fit with `best` right now?
    bool changed = false;       // has any candidate been applied?
    for (double c : candidates) {
      const absl::Duration needed =
          refit + eval_cost + (best_ndcg >= 0 ? refit : absl::ZeroDuration());
      if (absl::Now() + needed > deadline) {
        LOG(WARNING) << "tuning budget spent before " << name << "=" << c;
        recorded[absl::StrCat("tuning.truncated.", name)] = "budget";
        break;
      }
      RETURN_IF_ERROR(apply(c));
      changed = true;
      const absl::Time t0 = absl::Now();
      const std::optional<double> ndcg =
          SourceNdcg(b, split, cases, source, k, threads, deadline);
      eval_cost = absl::Now() - t0;
      if (!ndcg) {
        LOG(WARNING) << "tuning budget spent while evaluating " << name << "=" << c;
        recorded[absl::StrCat("tuning.truncated.", name)] = "budget";
        applied_best = false;
        break;
      }
      VLOG(1) << absl::StrFormat("tune %s=%g: validation ndcg@%d %.4f (%s)", name, c, k, *ndcg,
                                 absl::FormatDuration(eval_cost));
      tried.push_back(absl::StrFormat("%g: %.4f", c, *ndcg));
      if (*ndcg > best_ndcg) {
        best_ndcg = *ndcg, best = c;
        applied_best = true;
      } else {
        applied_best = false;
      }
    }
    if (best_ndcg < 0) {
      // Nothing evaluated: the bundle keeps its starting fit, unless an
      // interrupted candidate changed it (then the grid's first value).
      return changed ? apply(candidates.front()) : absl::OkStatus();
    }
    LOG(INFO) << absl::StrFormat("tuned %s = %g (validation ndcg@%d of %s: %s)", name, best, k,
                                 SourceName(source), absl::StrJoin(tried, ", "));
    recorded[absl::StrCat("tuned.", name)] = absl::StrCat(best);
    recorded[absl::StrCat("tuned.", name, ".validation_ndcg")] = absl::StrFormat("%.5f", best_ndcg);
    return applied_best ? absl::OkStatus() : apply(best);
  };
  const absl::Duration none = absl::ZeroDuration();

  if (b.slist) {
    // How a request's history becomes SLIST's input (serving parameters: the
    // model keeps the weights it was fit with).
    SlistInputs& in = b.params.slist_inputs;
    RETURN_IF_ERROR(grid("slist_position_decay", SourceId::kSlist, {4, 8, 16}, none, [&](double d) {
      in.position_decay = d;
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(grid("slist_time_tau_s", SourceId::kSlist, {600, 3600, 21600}, none,
                         [&](double tau) {
                           in.time_tau_s = tau;
                           return absl::OkStatus();
                         }));
    RETURN_IF_ERROR(grid("slist_time_floor", SourceId::kSlist, {0.3, 0.5, 0.7}, none,
                         [&](double c) {
                           in.time_floor = c;
                           return absl::OkStatus();
                         }));
  }
  RETURN_IF_ERROR(grid("trending_half_life_days", SourceId::kTrending, {7, 30, 90, 180, 365},
                       fit_times.trending, [&](double days) {
                         b.params.trending_half_life_s = days * kDay;
                         b.trending = TrendingModel(split.train(), n, days * kDay);
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(
      grid("profile_half_life_days", SourceId::kContent, {1, 7, 30, 365}, none, [&](double days) {
        b.params.profile_half_life_s = days * kDay;
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(grid("sequence_window", SourceId::kSequence, {2, 3, 5, 8}, none, [&](double w) {
    b.params.sequence_window = static_cast<int>(w);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("sequence_blend", SourceId::kSequence, {0.9, 0.95, 0.98, 1.0}, none,
                       [&](double blend) {
                         b.params.sequence_blend = static_cast<float>(blend);
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(grid("itemknn_neighbors", SourceId::kItemKnn, {50, 100, 200}, fit_times.itemknn,
                       [&](double nb) {
                         tuned.itemknn.neighbors = static_cast<int>(nb);
                         b.itemknn = ItemKnnModel::Fit(split.train(), users, n, tuned.itemknn);
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(grid("itemknn_shrink", SourceId::kItemKnn, {0, 20, 100}, fit_times.itemknn,
                       [&](double shrink) {
                         tuned.itemknn.shrink = shrink;
                         b.itemknn = ItemKnnModel::Fit(split.train(), users, n, tuned.itemknn);
                         return absl::OkStatus();
                       }));
  RETURN_IF_ERROR(
      grid("itemknn_recency", SourceId::kItemKnn, {3, 5, 10, 30, 0}, none, [&](double h) {
        b.params.itemknn_recency = static_cast<float>(h);
        return absl::OkStatus();
      }));
  auto refit_als = [&]() -> absl::Status {
    b.als = AlsModel::Fit(split.train(), users, n, tuned.als);
    ASSIGN_OR_RETURN(b.als_index, VectorIndex::Build(b.als.item_factors(), n, b.als.factors(),
                                                     options.index));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(grid("als_recency", SourceId::kAls, {3, 5, 10, 30, 0}, none, [&](double h) {
    b.params.als_recency = static_cast<float>(h);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("als_alpha", SourceId::kAls, {0.5, 1, 2, 5}, fit_times.als,
                       [&](double alpha) {
                         tuned.als.alpha = alpha;
                         return refit_als();
                       }));
  // Factors scale the fit roughly quadratically.
  RETURN_IF_ERROR(grid("als_factors", SourceId::kAls, {32, 64, 128}, fit_times.als * 4,
                       [&](double f) {
                         tuned.als.factors = static_cast<int>(f);
                         return refit_als();
                       }));
  RETURN_IF_ERROR(grid("als_reg", SourceId::kAls, {0.01, 0.1, 1, 10}, fit_times.als,
                       [&](double reg) {
                         tuned.als.reg = reg;
                         return refit_als();
                       }));
  if (b.ease) {
    RETURN_IF_ERROR(
        grid("ease_recency", SourceId::kEase, {3, 5, 10, 30, 0}, none, [&](double h) {
          b.params.ease_recency = static_cast<float>(h);
          return absl::OkStatus();
        }));
  }
  return tuned;
}

}  // namespace recsys::offline
