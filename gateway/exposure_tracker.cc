#include "gateway/exposure_tracker.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "common/eval/list_metrics.h"

namespace recsys::gateway {
namespace {

// Weights past 2^kRescaleExponent rescale the table (doubles keep ~2^1000).
constexpr double kRescaleExponent = 40;

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

ExposureTracker::ExposureTracker(ExposureTrackerOptions options)
    : capacity_(std::max(1, options.capacity)), half_life_(options.half_life) {
  heap_.reserve(capacity_);
  position_.reserve(capacity_);
  hll_current_.assign(kHllRegisters, 0);
  hll_previous_.assign(kHllRegisters, 0);
}

void ExposureTracker::CountDistinct(ItemIndex item) {
  const uint64_t h = Mix(static_cast<uint64_t>(static_cast<uint32_t>(item)));
  const size_t reg = h >> (64 - kHllBits);
  const uint64_t rest = h << kHllBits;
  const uint8_t rank =
      rest == 0 ? 64 - kHllBits + 1 : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
  hll_current_[reg] = std::max(hll_current_[reg], rank);
}

void ExposureTracker::RotateDistinct(absl::Time now) {
  if (hll_start_ == absl::InfinitePast()) hll_start_ = now;
  if (half_life_ == absl::InfiniteDuration() || now - hll_start_ < half_life_) return;
  if (now - hll_start_ < 2 * half_life_) {
    hll_previous_.swap(hll_current_);
  } else {
    std::fill(hll_previous_.begin(), hll_previous_.end(), 0);
  }
  std::fill(hll_current_.begin(), hll_current_.end(), 0);
  hll_start_ = now;
}

double ExposureTracker::DistinctEstimate() const {
  // The union of the two windows: register-wise maximum.
  constexpr double m = kHllRegisters;
  double inverse_sum = 0;
  int zeros = 0;
  for (int j = 0; j < kHllRegisters; ++j) {
    const uint8_t r = std::max(hll_current_[j], hll_previous_[j]);
    inverse_sum += std::ldexp(1.0, -r);
    zeros += r == 0;
  }
  const double alpha = 0.7213 / (1.0 + 1.079 / m);
  const double estimate = alpha * m * m / inverse_sum;
  // Small cardinalities: linear counting (Flajolet et al. 2007).
  if (estimate <= 2.5 * m && zeros > 0) return m * std::log(m / zeros);
  return estimate;
}

double ExposureTracker::Weight(absl::Time now) {
  if (half_life_ == absl::InfiniteDuration() || half_life_ <= absl::ZeroDuration()) return 1.0;
  if (epoch_ == absl::InfinitePast()) epoch_ = now;
  const double exponent = absl::FDivDuration(now - epoch_, half_life_);
  if (exponent <= kRescaleExponent) return std::exp2(exponent);
  // Rescale every counter to weight 1 at `now`: ratios, the heap order and
  // Space-Saving's bounds are unchanged.
  const double factor = std::exp2(-exponent);
  for (Entry& e : heap_) {
    e.count *= factor;
    e.error *= factor;
  }
  total_ *= factor;
  epoch_ = now;
  return 1.0;
}

void ExposureTracker::Place(size_t i, Entry e) {
  position_[e.item] = static_cast<uint32_t>(i);
  heap_[i] = e;
}

void ExposureTracker::SiftUp(size_t i) {
  Entry e = heap_[i];
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (heap_[parent].count <= e.count) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, e);
}

void ExposureTracker::SiftDown(size_t i) {
  Entry e = heap_[i];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].count < heap_[child].count) ++child;
    if (heap_[child].count >= e.count) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, e);
}

void ExposureTracker::Increment(ItemIndex item, double weight) {
  total_ += weight;
  auto it = position_.find(item);
  if (it != position_.end()) {
    const size_t i = it->second;
    heap_[i].count += weight;
    SiftDown(i);  // a larger count moves away from the root
    return;
  }
  if (heap_.size() < static_cast<size_t>(capacity_)) {
    heap_.push_back(Entry{item, weight, 0.0});
    SiftUp(heap_.size() - 1);
    return;
  }
  // Full: the item takes over the smallest counter (Space-Saving).
  const Entry smallest = heap_[0];
  position_.erase(smallest.item);
  Place(0, Entry{item, smallest.count + weight, smallest.count});
  SiftDown(0);
}

void ExposureTracker::Add(std::span<const ItemIndex> items, int32_t catalogue_items,
                          absl::Time now) {
  if (items.empty()) return;
  absl::MutexLock lock(&mu_);
  catalogue_items_ = catalogue_items;
  const double weight = Weight(now);
  RotateDistinct(now);
  for (ItemIndex item : items) {
    Increment(item, weight);
    CountDistinct(item);
  }
}

ExposureSummary ExposureTracker::Summarize(double top_fraction) const {
  std::vector<double> guaranteed;
  ExposureSummary s;
  double total = 0;
  {
    absl::MutexLock lock(&mu_);
    guaranteed.reserve(heap_.size());
    for (const Entry& e : heap_) guaranteed.push_back(std::max(0.0, e.count - e.error));
    total = total_;
    s.catalogue_items = catalogue_items_;
    s.distinct_items = DistinctEstimate();
  }
  s.tracked_items = static_cast<int64_t>(guaranteed.size());
  s.slots = total;
  if (total <= 0 || guaranteed.empty()) return s;
  const int64_t n = std::max<int64_t>(s.catalogue_items, s.tracked_items);
  // The top ceil(fraction * n) items (at least one), among the tracked ones.
  const int64_t top = std::clamp<int64_t>(
      static_cast<int64_t>(std::ceil(top_fraction * static_cast<double>(n))), 1, s.tracked_items);
  std::nth_element(guaranteed.begin(), guaranteed.begin() + (top - 1), guaranteed.end(),
                   std::greater<double>());
  double top_sum = 0;
  for (int64_t i = 0; i < top; ++i) top_sum += guaranteed[i];
  s.top_share = std::clamp(top_sum / total, 0.0, 1.0);
  // Gini: the guaranteed counts, and what no counter vouches for spread evenly
  // over the other distinct items served (nothing while the table was never
  // full); the rest of the catalogue at zero.
  double vouched = 0;
  std::vector<std::pair<double, double>> groups;
  groups.reserve(guaranteed.size() + 1);
  for (double g : guaranteed) {
    vouched += g;
    groups.emplace_back(g, 1.0);
  }
  const double rest = std::max(0.0, total - vouched);
  const double untracked = static_cast<double>(n - s.tracked_items);
  const double others = std::clamp(std::round(s.distinct_items) - static_cast<double>(s.tracked_items),
                                   0.0, untracked);
  if (rest > 0 && others >= 1) {
    groups.emplace_back(rest / others, others);
    groups.emplace_back(0.0, untracked - others);
  } else {
    if (rest > 0) {
      for (auto& g : groups) g.first += rest / static_cast<double>(groups.size());
    }
    groups.emplace_back(0.0, untracked);
  }
  s.gini = GiniOfGroups(&groups);
  return s;
}

size_t ExposureTracker::MemoryBytes() const {
  absl::MutexLock lock(&mu_);
  // A flat_hash_map slot is the pair plus one control byte.
  return sizeof(*this) + heap_.capacity() * sizeof(Entry) +
         position_.bucket_count() * (sizeof(std::pair<const ItemIndex, uint32_t>) + 1) +
         hll_current_.capacity() + hll_previous_.capacity();
}

}  // namespace recsys::gateway
