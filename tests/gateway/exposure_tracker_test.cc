#include "gateway/exposure_tracker.h"

#include <vector>

#include <gtest/gtest.h>

namespace recsys::gateway {
namespace {

constexpr double kEps = 1e-9;
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

ExposureTrackerOptions NoDecay(int capacity) {
  ExposureTrackerOptions o;
  o.capacity = capacity;
  o.half_life = absl::InfiniteDuration();
  return o;
}

// Every item of a 4-item catalogue served equally: Gini 0, the top item
// (1% of 4 rounds up to one item) has a quarter of the slots.
TEST(ExposureTrackerTest, EqualExposure) {
  ExposureTracker t(NoDecay(16));
  for (int r = 0; r < 5; ++r) t.Add(std::vector<ItemIndex>{0, 1, 2, 3}, 4, kT0);
  const ExposureSummary s = t.Summarize();
  EXPECT_NEAR(s.slots, 20.0, kEps);
  EXPECT_EQ(s.tracked_items, 4);
  EXPECT_NEAR(s.gini, 0.0, kEps);
  EXPECT_NEAR(s.top_share, 0.25, kEps);
}

// One item of a 10-item catalogue takes every slot: Gini (n-1)/n, top share 1.
TEST(ExposureTrackerTest, AllOnOneItem) {
  ExposureTracker t(NoDecay(16));
  for (int r = 0; r < 7; ++r) t.Add(std::vector<ItemIndex>{3}, 10, kT0);
  const ExposureSummary s = t.Summarize();
  EXPECT_NEAR(s.gini, 0.9, kEps);
  EXPECT_NEAR(s.top_share, 1.0, kEps);
  EXPECT_EQ(s.catalogue_items, 10);
  EXPECT_EQ(ExposureTracker(NoDecay(4)).Summarize().top_share, 0.0);  // nothing served yet
}

// A slot served one half-life later weighs twice as much: 10 slots of item 0,
// then 10 of item 1 one half-life on, give item 1 two thirds of the window.
// Many half-lives on, the rescaling keeps the same ratios.
TEST(ExposureTrackerTest, SlotsDecayWithTheHalfLife) {
  ExposureTrackerOptions o;
  o.capacity = 16;
  o.half_life = absl::Minutes(15);
  ExposureTracker t(o);
  for (int r = 0; r < 10; ++r) t.Add(std::vector<ItemIndex>{0}, 100, kT0);
  for (int r = 0; r < 10; ++r) t.Add(std::vector<ItemIndex>{1}, 100, kT0 + absl::Minutes(15));
  EXPECT_NEAR(t.Summarize().top_share, 2.0 / 3.0, 1e-12);
  // 60 half-lives later (past the rescale point) one slot of item 2 outweighs
  // everything before it by 2^60.
  t.Add(std::vector<ItemIndex>{2}, 100, kT0 + absl::Minutes(15 * 61));
  const ExposureSummary s = t.Summarize();
  EXPECT_NEAR(s.top_share, 1.0, 1e-9);
  EXPECT_NEAR(s.slots, 1.0, 1e-9);
}

// Past its capacity the table keeps the heavy items (Space-Saving): three
// items taking half the slots among a stream of 10,000 one-off items stay
// tracked, and the top share (a lower bound) is at least their half minus
// the table's error bound.
TEST(ExposureTrackerTest, HeavyItemsSurviveAFullTable) {
  ExposureTracker t(NoDecay(1000));
  int next = 100;
  for (int r = 0; r < 10000; ++r) {
    t.Add(std::vector<ItemIndex>{r % 3, next++}, 1000000, kT0);
  }
  const ExposureSummary s = t.Summarize(3.0 / 1000000);  // the top 3 items
  EXPECT_EQ(s.tracked_items, 1000);
  EXPECT_NEAR(s.slots, 20000.0, kEps);
  // True share 0.5; each guaranteed count undershoots by at most slots / capacity.
  EXPECT_LE(s.top_share, 0.5 + kEps);
  EXPECT_GE(s.top_share, 0.5 - 3 * 20.0 / 20000.0);
  EXPECT_GT(s.gini, 0.99);  // half of all slots on 3 of a million items
  EXPECT_LE(s.gini, 1.0);
}

// The table's memory is fixed at construction: a million distinct items (a
// catalogue far beyond its capacity) leave it at the size it started with,
// within the documented ~1.5 MB at the default capacity.
TEST(ExposureTrackerTest, MemoryStaysBoundedUnderAMillionDistinctItems) {
  ExposureTracker t;
  const size_t start = t.MemoryBytes();
  EXPECT_LE(start, size_t{1600} * 1024);
  std::vector<ItemIndex> list(10);
  for (ItemIndex i = 0; i < 1000000; i += 10) {
    for (int j = 0; j < 10; ++j) list[j] = i + j;
    t.Add(list, 1000000, kT0 + absl::Seconds(i / 1000));
  }
  EXPECT_EQ(t.MemoryBytes(), start);
  const ExposureSummary s = t.Summarize();
  EXPECT_EQ(s.tracked_items, t.capacity());
  EXPECT_NEAR(s.gini, 0.0, 0.2);  // every item served once (decay aside): near equal
}

}  // namespace
}  // namespace recsys::gateway
