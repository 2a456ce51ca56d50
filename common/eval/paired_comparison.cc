#include "common/eval/paired_comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "absl/container/flat_hash_map.h"

namespace recsys {
namespace {

constexpr double kZ975 = 1.959963984540054;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Mean and 95% half-width (normal approximation, as the leaderboard's
// intervals) of `values`; infinite half-width with fewer than 2 values.
struct MeanAndHalfWidth {
  double mean = 0, half_width = kInf;
};
MeanAndHalfWidth Summarise(std::span<const float> values) {
  MeanAndHalfWidth out;
  const double n = static_cast<double>(values.size());
  if (values.empty()) return out;
  double sum = 0;
  for (float v : values) sum += v;
  out.mean = sum / n;
  if (values.size() < 2) return out;
  double sq = 0;
  for (float v : values) sq += (v - out.mean) * (v - out.mean);
  out.half_width = kZ975 * std::sqrt(sq / (n - 1) / n);
  return out;
}

MetricDifference Unpaired(std::span<const float> a, std::span<const float> b) {
  const MeanAndHalfWidth x = Summarise(a), y = Summarise(b);
  MetricDifference d;
  d.mean_a = x.mean;
  d.mean_b = y.mean;
  d.difference = y.mean - x.mean;
  const double h = std::sqrt(x.half_width * x.half_width + y.half_width * y.half_width);
  d.low = d.difference - h;
  d.high = d.difference + h;
  return d;
}

// Why a paired t interval and not a paired bootstrap: the promotion gate acts
// on it, so it must be a deterministic function of the cases alone (no seed,
// no resample count, no order dependence), and it costs one pass instead of
// 2,000. With at least 30 matched cases and per-case differences bounded in
// [−1, 1], the mean's sampling distribution is close to normal, and a
// percentile bootstrap is no more accurate at these sizes. Both are too narrow
// when only a handful of cases differ at all (the differences are then far
// from normal), so a verdict resting on a few changed cases deserves a look
// at the cases column. It is also the paired analogue of the leaderboard's own
// normal-approximation intervals, so paired and unpaired rows read alike.
MetricDifference Paired(std::span<const float> a, std::span<const float> b) {
  MetricDifference d;
  const size_t n = a.size();
  double sum_a = 0, sum_b = 0;
  for (size_t i = 0; i < n; ++i) {
    sum_a += a[i];
    sum_b += b[i];
  }
  d.mean_a = n ? sum_a / n : 0;
  d.mean_b = n ? sum_b / n : 0;
  d.difference = d.mean_b - d.mean_a;
  if (n < 2) {
    d.low = -kInf;
    d.high = kInf;
    return d;
  }
  double sq = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = (static_cast<double>(b[i]) - a[i]) - d.difference;
    sq += e * e;
  }
  const double se = std::sqrt(sq / (n - 1) / n);
  const double h = StudentT975(static_cast<int64_t>(n) - 1) * se;
  d.low = d.difference - h;
  d.high = d.difference + h;
  return d;
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kBetter:
      return "better";
    case Verdict::kWorse:
      return "worse";
    case Verdict::kNoSignificantDifference:
      break;
  }
  return "no significant difference";
}

Verdict MetricDifference::verdict() const {
  if (low > 0) return Verdict::kBetter;
  if (high < 0) return Verdict::kWorse;
  return Verdict::kNoSignificantDifference;
}

double StudentT975(int64_t df) {
  static constexpr double kTable[31] = {
      kInf,  12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
      2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
      2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
  if (df < 1) return kInf;
  if (df <= 30) return kTable[df];
  const double z = kZ975, v = static_cast<double>(df);
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

RowComparison CompareRows(const CaseRowView& a, const CaseRowView& b,
                          const PairingOptions& options) {
  RowComparison out;
  out.cases_a = static_cast<int64_t>(a.size());
  out.cases_b = static_cast<int64_t>(b.size());
  absl::flat_hash_map<uint64_t, uint32_t> index_a;
  index_a.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) index_a.emplace(a.keys[i], static_cast<uint32_t>(i));
  // Matched cases in B's order (the statistics do not depend on the order).
  std::vector<float> ra, rb, na, nb;
  for (size_t j = 0; j < b.size(); ++j) {
    auto it = index_a.find(b.keys[j]);
    if (it == index_a.end()) continue;
    ra.push_back(a.recall[it->second]);
    na.push_back(a.ndcg[it->second]);
    rb.push_back(b.recall[j]);
    nb.push_back(b.ndcg[j]);
  }
  out.matched = static_cast<int64_t>(ra.size());
  const int64_t smaller = std::min(out.cases_a, out.cases_b);
  out.paired = out.matched >= options.min_matched && out.matched > 0 &&
               static_cast<double>(out.matched) >=
                   options.min_matched_fraction * static_cast<double>(smaller);
  if (out.paired) {
    out.recall = Paired(ra, rb);
    out.ndcg = Paired(na, nb);
  } else {
    out.recall = Unpaired(a.recall, b.recall);
    out.ndcg = Unpaired(a.ndcg, b.ndcg);
  }
  return out;
}

}  // namespace recsys
