#include "common/models/trending.h"

#include <cmath>

#include <gtest/gtest.h>

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
        if (e.item == item && e.timestamp_s < t) expected += std::pow(2.0, -(t - e.timestamp_s) / 700.0);
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

}  // namespace
}  // namespace recsys
