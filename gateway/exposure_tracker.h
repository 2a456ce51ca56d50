// How concentrated the served items are: an exponentially decaying count of
// the slots each item took in served lists, over a memory bounded regardless
// of the catalogue's size, summarised as the share of slots the top 1% of the
// catalogue's items took and an approximate Gini coefficient of exposure.
//
// The table is Space-Saving (Metwally, Agrawal & El Abbadi 2005) with
// weighted, decaying increments: at most `capacity` items are tracked, each
// with a count and the error it may have inherited; a new item, when the table
// is full, takes over the smallest counter (count + its weight, error = the
// count it took over). So an item's true count lies in [count - error, count],
// and any item that took more than total / capacity of the slots is tracked.
// Decay: a slot served at time t weighs 2^((t - t0) / half_life) (t0 moves
// forward when weights grow large, rescaling every counter), so the figures
// follow the last few half-lives.
//
// Summaries use the guaranteed counts (count - error): while the table has
// never been full (tracked items < capacity) they are exact; beyond that they
// are lower bounds for the top share, and the Gini coefficient spreads the
// mass no counter vouches for evenly over the other distinct items served,
// counted by a HyperLogLog (4,096 registers, ~1.6% error) over the current
// and the previous half-life (a window close to, not equal to, the decay).
//
// Cost: Add takes one mutex and, per item, a hash lookup and a sift of the
// min-heap (O(log capacity)); nothing is allocated after construction.
// Summarize copies the table under the mutex (~24 bytes per tracked item) and
// sorts the copy outside it: O(capacity log capacity), meant for a scrape.
// Memory: 24 bytes per heap entry plus the hash index (9 bytes per slot,
// about 2 slots per entry) and 8 KB of HyperLogLog registers: ~1.4 MB at the
// default 32,768 entries (MemoryBytes()), whatever the catalogue's size.
// Threading: every method is safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/data/dataset.h"

namespace recsys::gateway {

struct ExposureTrackerOptions {
  // Items tracked at once. The top 1% of a catalogue of n items is tracked
  // exactly enough only when capacity well exceeds n / 100 (10,000 items at a
  // million): the default leaves room for 3x that.
  int capacity = 32768;
  // A slot's weight halves every half_life (InfiniteDuration: no decay).
  absl::Duration half_life = absl::Minutes(15);
};

struct ExposureSummary {
  double slots = 0;           // decayed served slots in the window
  int64_t tracked_items = 0;  // items in the table (== capacity once full)
  int64_t catalogue_items = 0;
  double distinct_items = 0;  // estimated distinct items served in the window
  // Share of the slots taken by the ceil(top_fraction * catalogue) items with
  // the most (0 before any slot).
  double top_share = 0;
  // Gini coefficient of the slots over the catalogue's items (0 = equal).
  double gini = 0;
};

class ExposureTracker {
 public:
  explicit ExposureTracker(ExposureTrackerOptions options = {});
  ExposureTracker(const ExposureTracker&) = delete;
  ExposureTracker& operator=(const ExposureTracker&) = delete;

  // One served list's items at `now`, from a catalogue of `catalogue_items`
  // (the serving bundle's size; the latest one is what summaries use).
  void Add(std::span<const ItemIndex> items, int32_t catalogue_items, absl::Time now);

  // The current figures; top_fraction 0.01 = the top 1% of the catalogue.
  ExposureSummary Summarize(double top_fraction = 0.01) const;

  // Bytes the tracker holds (the heap's and the index's allocations and the
  // object itself); constant after construction.
  size_t MemoryBytes() const;
  int capacity() const { return capacity_; }

 private:
  struct Entry {
    ItemIndex item;
    double count;  // decayed slots, an upper bound of the item's
    double error;  // what the count may overstate
  };
  void Increment(ItemIndex item, double weight) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SiftUp(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SiftDown(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Place(size_t i, Entry e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The weight of a slot served at `now` (rescales the table when it grows).
  double Weight(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Distinct items served (HyperLogLog, kHllRegisters one-byte registers),
  // in the window that began at hll_start_ and in the one before it.
  void CountDistinct(ItemIndex item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RotateDistinct(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double DistinctEstimate() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static constexpr int kHllBits = 12;
  static constexpr int kHllRegisters = 1 << kHllBits;

  const int capacity_;
  const absl::Duration half_life_;
  mutable absl::Mutex mu_;
  // Min-heap by count (the smallest counter at 0), capacity_ reserved.
  std::vector<Entry> heap_ ABSL_GUARDED_BY(mu_);
  // item -> its position in heap_; capacity_ reserved.
  absl::flat_hash_map<ItemIndex, uint32_t> position_ ABSL_GUARDED_BY(mu_);
  double total_ ABSL_GUARDED_BY(mu_) = 0;  // sum of every count
  absl::Time epoch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // weight 1 here
  int32_t catalogue_items_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint8_t> hll_current_ ABSL_GUARDED_BY(mu_);
  std::vector<uint8_t> hll_previous_ ABSL_GUARDED_BY(mu_);
  absl::Time hll_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace recsys::gateway
