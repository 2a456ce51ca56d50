#include "offline/tuning.h"

#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "offline/evaluate_pass.h"

namespace recsys::offline {
namespace {

constexpr double kDay = 86400.0;

}  // namespace

absl::StatusOr<TunedModels> Tune(const Dataset& data, const LeaveLastOutSplit& split,
                                 const TrainOptions& options, ModelBundle* bundle,
                                 google::protobuf::Map<std::string, std::string>* recorded_map) {
  const absl::Time deadline = absl::Now() + options.tune_budget;
  auto& recorded = *recorded_map;
  const int k = options.k;
  const int threads = options.threads;
  ModelBundle& b = *bundle;
  TunedModels tuned{options.itemknn, options.als};
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
      const double ndcg = SourceValidationNdcg(b, split, source, k, threads);
      LOG(INFO) << absl::StrFormat("tune %s=%g: validation ndcg@%d %.4f", name, c, k, ndcg);
      if (ndcg > best_ndcg) best_ndcg = ndcg, best = c;
    }
    recorded[absl::StrCat("tuned.", name)] = absl::StrCat(best);
    recorded[absl::StrCat("tuned.", name, ".validation_ndcg")] = absl::StrFormat("%.5f", best_ndcg);
    return apply(best);
  };

  RETURN_IF_ERROR(
      grid("trending_half_life_days", SourceId::kTrending, {7, 30, 90, 180, 365}, [&](double days) {
        b.params.trending_half_life_s = days * kDay;
        b.trending = TrendingModel(split.train(), n, days * kDay);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(
      grid("profile_half_life_days", SourceId::kContent, {1, 7, 30, 365}, [&](double days) {
        b.params.profile_half_life_s = days * kDay;
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(grid("sequence_window", SourceId::kSequence, {2, 3, 5, 8}, [&](double w) {
    b.params.sequence_window = static_cast<int>(w);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(
      grid("sequence_blend", SourceId::kSequence, {0.9, 0.95, 0.98, 1.0}, [&](double blend) {
        b.params.sequence_blend = static_cast<float>(blend);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(grid("itemknn_neighbors", SourceId::kItemKnn, {50, 100, 200}, [&](double nb) {
    tuned.itemknn.neighbors = static_cast<int>(nb);
    b.itemknn = ItemKnnModel::Fit(split.train(), users, n, tuned.itemknn);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("itemknn_shrink", SourceId::kItemKnn, {0, 20, 100}, [&](double shrink) {
    tuned.itemknn.shrink = shrink;
    b.itemknn = ItemKnnModel::Fit(split.train(), users, n, tuned.itemknn);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("itemknn_recency", SourceId::kItemKnn, {3, 5, 10, 30, 0}, [&](double h) {
    b.params.itemknn_recency = static_cast<float>(h);
    return absl::OkStatus();
  }));
  auto refit_als = [&]() -> absl::Status {
    b.als = AlsModel::Fit(split.train(), users, n, tuned.als);
    ASSIGN_OR_RETURN(b.als_index, VectorIndex::Build(b.als.item_factors(), n, b.als.factors(),
                                                     VectorIndexOptions{}));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(grid("als_recency", SourceId::kAls, {3, 5, 10, 30, 0}, [&](double h) {
    b.params.als_recency = static_cast<float>(h);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(grid("als_alpha", SourceId::kAls, {0.5, 1, 2, 5}, [&](double alpha) {
    tuned.als.alpha = alpha;
    return refit_als();
  }));
  RETURN_IF_ERROR(grid("als_factors", SourceId::kAls, {32, 64, 128}, [&](double f) {
    tuned.als.factors = static_cast<int>(f);
    return refit_als();
  }));
  RETURN_IF_ERROR(grid("als_reg", SourceId::kAls, {0.01, 0.1, 1, 10}, [&](double reg) {
    tuned.als.reg = reg;
    return refit_als();
  }));
  if (b.ease) {
    RETURN_IF_ERROR(grid("ease_recency", SourceId::kEase, {3, 5, 10, 30, 0}, [&](double h) {
      b.params.ease_recency = static_cast<float>(h);
      return absl::OkStatus();
    }));
  }
  return tuned;
}

}  // namespace recsys::offline
