#include "common/models/trending.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "common/topk.h"

namespace recsys {
namespace {

// Scores decay by half per half-life and only count events strictly before t.
TEST(Trending, DecayAndStrictlyBefore) {
  const std::vector<Interaction> events = {{0, 0, 100, 1}, {0, 1, 200, 1}, {1, 1, 300, 1}};
  TrendingModel model(events, 3, /*half_life_s=*/100.0);
  std::vector<float> s;
  model.ScoresAsOf(300, &s);  // the event at 300 does not count
  EXPECT_NEAR(s[0], 0.25f, 1e-6);
  EXPECT_NEAR(s[1], 0.5f, 1e-6);
  EXPECT_EQ(s[2], 0.0f);
  model.ScoresAsOf(301, &s);
  EXPECT_NEAR(s[1], std::pow(2.0, -1.01) + std::pow(2.0, -0.01), 1e-5);
  model.ScoresAsOf(50, &s);
  EXPECT_EQ(s[0], 0.0f);
}

// Checkpoints give the same scores as summing every event.
TEST(Trending, CheckpointsMatchBruteForce) {
  std::vector<Interaction> events;
  for (int i = 0; i < 1000; ++i) events.push_back({0, (i * 7) % 13, 1000 + (i * 37) % 5000, 1});
  TrendingModel model(events, 13, 700.0, /*checkpoint_every=*/64);
  for (int64_t t : {900, 1000, 2500, 4321, 7000}) {
    std::vector<float> s;
    model.ScoresAsOf(t, &s);
    for (int item = 0; item < 13; ++item) {
      double expected = 0;
      for (const auto& e : events) {
        if (e.item == item && e.timestamp_s < t)
          expected += std::pow(2.0, -(t - e.timestamp_s) / 700.0);
      }
      EXPECT_NEAR(s[item], expected, 1e-3 * (1 + expected)) << "t=" << t << " item=" << item;
    }
  }
}

// Top-k orders by score then index, skipping excluded and -inf entries.
TEST(TopK, DeterministicTiesAndExclusion) {
  const std::vector<float> scores = {1.0f, 3.0f, 3.0f, -INFINITY, 2.0f, 3.0f};
  auto top = TopKDense(scores, 3, [](ItemIndex i) { return i == 2; });
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, 1);
  EXPECT_EQ(top[1].item, 5);
  EXPECT_EQ(top[2].item, 4);
  EXPECT_TRUE(TopKDense(scores, 0, [](ItemIndex) { return false; }).empty());
  EXPECT_EQ(TopKDense(scores, 10, [](ItemIndex) { return false; }).size(), 5u);
}

// A random log: `events` events over `items` items with a skewed popularity
// (a few items take most events, some are never seen) and repeated timestamps.
std::vector<Interaction> RandomLog(int events, int32_t items, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Interaction> log;
  for (int e = 0; e < events; ++e) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const ItemIndex item = static_cast<ItemIndex>(std::pow(u, 3.0) * (items - 3));  // last 3 unseen
    log.push_back({0, item, 1000 + static_cast<int64_t>(rng() % 200000) / 7 * 7, 1});
  }
  return log;
}

void ExpectBitEqual(std::span<const float> a, std::span<const float> b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << i;
  }
}

void ExpectSameTop(const std::vector<ScoredIndex>& got, const std::vector<ScoredIndex>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].item, want[i].item) << i;
    EXPECT_EQ(std::bit_cast<uint32_t>(got[i].score), std::bit_cast<uint32_t>(want[i].score)) << i;
  }
}

// "Now" is precomputed: the scores equal ScoresAsOf(latest_time()) bit for bit,
// the order is the RanksBefore order, and TrendingAsOf at latest_time() gives
// the dense top-k for any exclusion.
TEST(Trending, NowEqualsTheDenseReference) {
  const TrendingModel model(RandomLog(20000, 3000, 1), 3000, 5000.0, /*checkpoint_every=*/1500,
                            /*candidates=*/100);
  std::vector<float> dense;
  model.ScoresAsOf(model.latest_time(), &dense);
  ExpectBitEqual(model.now_scores(), dense);
  ASSERT_EQ(model.now_order().size(), 3000u);
  for (size_t r = 1; r < model.now_order().size(); ++r) {
    const ItemIndex a = model.now_order()[r - 1], b = model.now_order()[r];
    EXPECT_TRUE(RanksBefore({a, dense[a]}, {b, dense[b]})) << r;
  }
  const TrendingAsOf now(model, model.latest_time());
  EXPECT_TRUE(now.is_now());
  for (int k : {1, 10, 200, 5000}) {
    auto skip = [](ItemIndex i) { return i % 3 == 1; };
    ExpectSameTop(now.Top(k, skip), TopKDense(dense, k, skip));
  }
  for (ItemIndex i = 0; i < 3000; ++i) ASSERT_EQ(now.score(i), dense[i]);
}

// As of any other time (before the first event, inside and at the edges of
// checkpoint intervals, after the last event), TrendingAsOf's scores and top-k
// equal the dense reference bit for bit, for catalogues smaller and larger
// than the per-checkpoint candidate lists, with and without heavy exclusion.
// The dense fallback is only needed when k nears the list size or the
// exclusion empties the lists, never when every scored item is listed.
TEST(Trending, PastAsOfEqualsTheDenseReference) {
  for (int32_t items : {50, 3000}) {
    const std::vector<Interaction> log = RandomLog(20000, items, 2);
    const TrendingModel model(log, items, 3000.0, /*checkpoint_every=*/1500, /*candidates=*/100);
    std::vector<int64_t> times = {
        0, 999, 1000, 1001, 50000, model.latest_time() + 1, model.latest_time() + 100000};
    std::mt19937 rng(3);
    for (int r = 0; r < 40; ++r) times.push_back(1000 + static_cast<int64_t>(rng() % 30000));
    for (size_t e = 1499; e < model.event_times().size(); e += 1500) {
      times.push_back(model.event_times()[e]);  // a checkpoint's last event
      times.push_back(model.event_times()[e] + 1);
    }
    int fallbacks = 0;
    for (int64_t t : times) {
      std::vector<float> dense;
      model.ScoresAsOf(t, &dense);
      for (int64_t sparse_tail_max : {int64_t{1} << 40, int64_t{0}, int64_t{-1}}) {
        // Sparse tail always, dense always, the default threshold.
        const TrendingAsOf view(model, t, sparse_tail_max);
        for (ItemIndex i = 0; i < items; ++i) {
          ASSERT_EQ(std::bit_cast<uint32_t>(view.score(i)), std::bit_cast<uint32_t>(dense[i]))
              << "items=" << items << " t=" << t << " item=" << i;
        }
        for (int k : {1, 20, 90}) {
          auto light = [](ItemIndex i) { return i % 5 == 2; };
          bool fallback = false;
          ExpectSameTop(view.Top(k, light, &fallback), TopKDense(dense, k, light));
          // Well below the 100 listed items: the lists prove the answer.
          if (k <= 20) EXPECT_FALSE(fallback) << "t=" << t << " k=" << k;
          // Skipping the 70 best listed items leaves fewer than k above the bound.
          auto heavy = [&](ItemIndex i) { return i < 70 || light(i); };
          ExpectSameTop(view.Top(k, heavy, &fallback), TopKDense(dense, k, heavy));
          fallbacks += fallback;
        }
      }
    }
    if (items <= 100) EXPECT_EQ(fallbacks, 0);  // every scored item is listed
    if (items > 100) EXPECT_GT(fallbacks, 0);
  }
}

// An empty model: every score 0, the top-k is the first k ids, as before.
TEST(Trending, EmptyLog) {
  const TrendingModel model({}, 5, 100.0);
  for (int64_t t : {int64_t{0}, int64_t{100}}) {
    const TrendingAsOf view(model, t);
    const auto top = view.Top(3, [](ItemIndex i) { return i == 0; });
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].item, 1);
    EXPECT_EQ(top[2].item, 3);
    EXPECT_EQ(view.score(4), 0.0f);
  }
  EXPECT_TRUE(TrendingAsOf().Top(3, [](ItemIndex) { return false; }).empty());
}

}  // namespace
}  // namespace recsys
