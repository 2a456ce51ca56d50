#include "offline/ranker_selection.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eval/metrics.h"
#include "common/vlog.h"

namespace recsys::offline {
namespace {

// The rows of `rows` whose group is (or is not) held out, in order.
void TakeRows(const PassOutput& all, bool held_out, PassOutput* out) {
  std::vector<int64_t> picked;
  for (size_t r = 0; r < all.labels.size(); ++r) {
    if ((all.group[r] % 5 == 4) == held_out) picked.push_back(static_cast<int64_t>(r));
  }
  out->features.resize(static_cast<Eigen::Index>(picked.size()), kNumFeatures);
  for (size_t i = 0; i < picked.size(); ++i) {
    out->features.row(static_cast<Eigen::Index>(i)) = all.features.row(picked[i]);
    out->labels.push_back(all.labels[picked[i]]);
    out->group.push_back(all.group[picked[i]]);
  }
}

}  // namespace

double GroupNdcg(std::span<const float> scores, std::span<const uint8_t> labels,
                 std::span<const int32_t> groups, int k) {
  double sum = 0;
  int count = 0;
  std::vector<ItemIndex> ranked, relevant;
  for (size_t a = 0; a < groups.size();) {
    size_t b = a;
    while (b < groups.size() && groups[b] == groups[a]) ++b;
    // Row positions within the group, best score first, ties by position.
    ranked.resize(b - a);
    std::iota(ranked.begin(), ranked.end(), 0);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [&](ItemIndex x, ItemIndex y) { return scores[a + x] > scores[a + y]; });
    relevant.clear();
    for (size_t i = a; i < b; ++i) {
      if (labels[i]) relevant.push_back(static_cast<ItemIndex>(i - a));
    }
    if (!relevant.empty()) sum += NdcgAtK(ranked, relevant, k);
    ++count;
    a = b;
  }
  return count ? sum / count : 0.0;
}

RankerChoice SelectAndFitRanker(const PassOutput& rows, int k, const RankerParams& params) {
  PassOutput fit, held;
  TakeRows(rows, /*held_out=*/false, &fit);
  TakeRows(rows, /*held_out=*/true, &held);
  std::vector<float> point_scores, list_scores;
  absl::Time t0 = absl::Now();
  LogisticRanker pointwise = LogisticRanker::Fit(fit.features, fit.labels, params);
  pointwise.Margins(held.features, &point_scores);
  VLOG(1) << "ranker: pointwise fit " << absl::FormatDuration(absl::Now() - t0);
  t0 = absl::Now();
  LogisticRanker listwise = LogisticRanker::FitListwise(fit.features, fit.labels, fit.group, params);
  listwise.Margins(held.features, &list_scores);
  VLOG(1) << "ranker: listwise fit " << absl::FormatDuration(absl::Now() - t0);

  RankerChoice choice;
  choice.pointwise_ndcg = GroupNdcg(point_scores, held.labels, held.group, k);
  choice.listwise_ndcg = GroupNdcg(list_scores, held.labels, held.group, k);
  choice.listwise = choice.listwise_ndcg >= choice.pointwise_ndcg;
  choice.heldout_ndcg = choice.listwise ? choice.listwise_ndcg : choice.pointwise_ndcg;
  choice.heldout_auc = Auc(choice.listwise ? list_scores : point_scores, held.labels);
  const LogisticRanker& first = choice.listwise ? listwise : pointwise;
  t0 = absl::Now();
  // The ranker against each source's order and the blends, on the held-out cases.
  choice.final_ndcg = choice.heldout_ndcg;
  std::vector<float> scores;
  for (int s = 0; s < kNumSources; ++s) {
    const int column = 2 * s + 1;  // rrank_<source>: 1 / (1 + rank), 0 when absent
    for (double beta : kBlendWeights) {
      first.Blended(column, beta, fit.features, fit.labels).Margins(held.features, &scores);
      const double ndcg = GroupNdcg(scores, held.labels, held.group, k);
      if (beta == kBlendWeights[std::size(kBlendWeights) - 1] && ndcg > choice.best_source_ndcg) {
        choice.best_source_ndcg = ndcg;
        choice.best_source = s;
      }
      if (ndcg > choice.final_ndcg) {
        choice.final_ndcg = ndcg;
        choice.blend_source = s;
        choice.blend_weight = beta;
      }
    }
  }
  VLOG(1) << "ranker: blends " << absl::FormatDuration(absl::Now() - t0);
  t0 = absl::Now();
  choice.model = choice.listwise
                     ? LogisticRanker::FitListwise(rows.features, rows.labels, rows.group, params)
                     : LogisticRanker::Fit(rows.features, rows.labels, params);
  if (choice.blend_source >= 0) {
    choice.model = choice.model.Blended(2 * choice.blend_source + 1, choice.blend_weight,
                                        rows.features, rows.labels);
  }
  VLOG(1) << "ranker: final fit " << absl::FormatDuration(absl::Now() - t0);
  return choice;
}

}  // namespace recsys::offline
