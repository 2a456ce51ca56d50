#include "offline/diagnostics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/features/features.h"
#include "common/retrieval/pool.h"
#include "common/retrieval/user_state.h"
#include "offline/evaluator.h"

namespace recsys::offline {
namespace {

// Calibration bins: [0, 1e-6), then half-decades up to 1 (click probabilities
// over a pool of hundreds sit mostly around 1e-3).
std::vector<CalibrationBin> EmptyBins() {
  std::vector<CalibrationBin> bins;
  double lo = 0;
  for (int e = 12; e >= 0; --e) {  // upper edges 10^-6, 10^-5.5, ..., 10^0
    const double hi = std::pow(10.0, -0.5 * e);
    bins.push_back(CalibrationBin{lo, hi});
    lo = hi;
  }
  bins.back().hi = 1.0 + 1e-9;  // p = 1 falls in the last bin
  return bins;
}

size_t BinOf(const std::vector<CalibrationBin>& bins, double p) {
  for (size_t b = 0; b < bins.size(); ++b) {
    if (p < bins[b].hi) return b;
  }
  return bins.size() - 1;
}

void Merge(const Diagnostics& from, Diagnostics* to) {
  to->cases += from.cases;
  for (int s = 0; s < kNumSources; ++s) {
    for (size_t d = 0; d < to->hits[s].size(); ++d) to->hits[s][d] += from.hits[s][d];
    to->final_from[s] += from.final_from[s];
    to->final_only[s] += from.final_only[s];
  }
  to->pool_hits += from.pool_hits;
  to->pool_size_sum += from.pool_size_sum;
  to->final_slots += from.final_slots;
  for (size_t b = 0; b < to->calibration.size(); ++b) {
    to->calibration[b].count += from.calibration[b].count;
    to->calibration[b].predicted_sum += from.calibration[b].predicted_sum;
    to->calibration[b].positives += from.calibration[b].positives;
  }
}

}  // namespace

std::vector<int> DiagnosticDepths(int max_depth) {
  std::vector<int> depths;
  for (int base = 1; base <= max_depth; base *= 10) {
    for (int m : {1, 2, 5}) {
      if (base * m <= max_depth) depths.push_back(base * m);
    }
    if (base > max_depth / 10) break;
  }
  if (depths.empty() || depths.back() != max_depth) depths.push_back(max_depth);
  return depths;
}

Diagnostics Diagnose(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                     std::span<const EvalCase> cases, SplitName which, int k, int threads) {
  threads = std::max(1, threads);
  const retrieval::RetrieverSet& retrievers = retrieval::DefaultRetrievers();
  retrieval::SourceCounts fetch;
  int max_depth = k;
  for (int s = 0; s < kNumSources; ++s) {
    fetch[s] = std::max(bundle.params.quotas[s], k);
    max_depth = std::max(max_depth, fetch[s]);
  }
  Diagnostics proto;
  proto.split = SplitNameString(which);
  proto.k = k;
  proto.depths = DiagnosticDepths(max_depth);
  for (int s = 0; s < kNumSources; ++s) {
    proto.available[s] = retrievers[s] != nullptr && retrievers[s]->Available(bundle);
    proto.hits[s].assign(proto.depths.size(), 0);
    proto.fetched[s] = fetch[s];
  }
  proto.calibration = EmptyBins();
  std::vector<Diagnostics> local(threads, proto);

  ParallelCases(cases.size(), threads, [&](size_t i, int t) {
    Diagnostics& d = local[t];
    const EvalCase& c = cases[i];
    const Interaction& target = split.target(c);
    auto h = split.history(c);
    UserState st = BuildUserState(bundle, std::vector<Interaction>(h.begin(), h.end()),
                                  target.timestamp_s, {});
    const retrieval::SourcePlan plan =
        retrieval::PlanSources(retrievers, bundle, fetch, !st.history.empty());
    const retrieval::SourceLists lists =
        retrieval::RetrieveSources(retrievers, bundle, st, plan, nullptr);
    ++d.cases;
    for (int s = 0; s < kNumSources; ++s) {
      const auto& list = lists[s];
      const auto at = std::find_if(list.begin(), list.end(),
                                   [&](const ScoredIndex& x) { return x.item == target.item; });
      if (at == list.end()) continue;
      const int rank = static_cast<int>(at - list.begin());  // 0-based
      for (size_t j = 0; j < d.depths.size(); ++j) {
        if (rank < d.depths[j]) ++d.hits[s][j];
      }
    }
    const std::vector<PooledCandidate> pool =
        retrieval::PoolCandidates(lists, bundle.params.quotas, bundle.params.max_pool);
    d.pool_size_sum += static_cast<int64_t>(pool.size());
    if (pool.empty()) return;
    std::vector<float> logits;
    ScorePool(bundle, st, pool, &logits);
    std::vector<size_t> order(pool.size());
    for (size_t r = 0; r < order.size(); ++r) order[r] = r;
    for (size_t r = 0; r < pool.size(); ++r) {
      const bool positive = pool[r].item == target.item;
      d.pool_hits += positive;
      const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[r])));
      CalibrationBin& bin = d.calibration[BinOf(d.calibration, p)];
      ++bin.count;
      bin.predicted_sum += p;
      bin.positives += positive;
    }
    // The final top-k by logit, ties by item index (as RankPool orders them).
    const size_t top = std::min<size_t>(k, pool.size());
    std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](size_t a, size_t b) {
      return logits[a] != logits[b] ? logits[a] > logits[b] : pool[a].item < pool[b].item;
    });
    for (size_t r = 0; r < top; ++r) {
      const PooledCandidate& cand = pool[order[r]];
      ++d.final_slots;
      int found_by = 0, last = -1;
      for (int s = 0; s < kNumSources; ++s) {
        if (cand.rank[s] >= 0) {
          ++d.final_from[s];
          ++found_by;
          last = s;
        }
      }
      if (found_by == 1) ++d.final_only[last];
    }
  });
  for (int t = 1; t < threads; ++t) Merge(local[t], &local[0]);
  return local[0];
}

std::string DiagnosticsJson(const Diagnostics& d, const ModelBundle& bundle,
                            const std::string& final_order) {
  const double cases = std::max<int64_t>(d.cases, 1);
  const double slots = std::max<int64_t>(d.final_slots, 1);
  std::string out = absl::StrFormat("{\n  \"split\": \"%s\", \"k\": %d, \"cases\": %d,\n", d.split,
                                    d.k, d.cases);
  absl::StrAppend(&out, "  \"depths\": [", absl::StrJoin(d.depths, ", "), "],\n");
  absl::StrAppend(&out, "  \"sources\": [\n");
  bool first = true;
  for (int s = 0; s < kNumSources; ++s) {
    if (!d.available[s]) continue;
    // Depths beyond what the source was asked for are null (not measured).
    std::vector<std::string> recall;
    for (size_t j = 0; j < d.hits[s].size(); ++j) {
      recall.push_back(d.depths[j] <= d.fetched[s] ? absl::StrFormat("%.6f", d.hits[s][j] / cases)
                                                   : std::string("null"));
    }
    absl::StrAppendFormat(
        &out,
        "%s    {\"source\": \"%s\", \"quota\": %d, \"recall_at_depth\": [%s], "
        "\"final_share\": %.6f, \"final_only_share\": %.6f}",
        first ? "" : ",\n", SourceName(static_cast<SourceId>(s)), bundle.params.quotas[s],
        absl::StrJoin(recall, ", "), d.final_from[s] / slots, d.final_only[s] / slots);
    first = false;
  }
  absl::StrAppendFormat(&out,
                        "\n  ],\n  \"pool\": {\"mean_size\": %.3f, \"recall\": %.6f, "
                        "\"max_pool\": %d},\n",
                        d.pool_size_sum / cases, d.pool_hits / cases, bundle.params.max_pool);
  absl::StrAppend(&out, "  \"calibration\": [\n");
  first = true;
  for (const CalibrationBin& b : d.calibration) {
    if (b.count == 0) continue;
    absl::StrAppendFormat(&out,
                          "%s    {\"lo\": %.3g, \"hi\": %.3g, \"count\": %d, "
                          "\"mean_predicted\": %.6g, \"observed\": %.6g, \"positives\": %d}",
                          first ? "" : ",\n", b.lo, std::min(b.hi, 1.0), b.count,
                          b.predicted_sum / b.count,
                          static_cast<double>(b.positives) / b.count, b.positives);
    first = false;
  }
  absl::StrAppend(&out, "\n  ],\n");
  std::string escaped;
  for (char ch : final_order) {
    if (ch == '"' || ch == '\\') escaped.push_back('\\');
    escaped.push_back(ch);
  }
  absl::StrAppendFormat(&out, "  \"ranker\": {\"final\": \"%s\", \"bias\": %.6g, \"weights\": [\n",
                        escaped, bundle.ranker.bias());
  const std::vector<std::string>& names = FeatureNames();
  const std::vector<float>& w = bundle.ranker.weights();
  for (size_t i = 0; i < w.size() && i < names.size(); ++i) {
    absl::StrAppendFormat(&out, "%s    {\"feature\": \"%s\", \"weight\": %.6g}",
                          i == 0 ? "" : ",\n", names[i], std::isfinite(w[i]) ? w[i] : 0.0f);
  }
  absl::StrAppend(&out, "\n  ]}\n}\n");
  return out;
}

}  // namespace recsys::offline
