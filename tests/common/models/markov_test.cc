#include "common/models/markov.h"

#include <gtest/gtest.h>

#include <vector>

namespace recsys {
namespace {

std::vector<int32_t> Ids(const MarkovTransitions& m, ItemIndex i) {
  auto r = m.row_ids(i);
  return {r.begin(), r.end()};
}
std::vector<float> Probs(const MarkovTransitions& m, ItemIndex i) {
  auto r = m.row_values(i);
  return {r.begin(), r.end()};
}

// Transitions follow each user's time order (ties in file order), skip
// self-transitions, normalise per source item and keep the top N (ties: lower id).
TEST(Markov, CountsConsecutiveTransitionsInTimeOrder) {
  const std::vector<Interaction> events = {
      // user 0, file order scrambled: by time 0 -> 1 -> 1 -> 2 -> 0
      {0, 2, 40, 1}, {0, 0, 10, 1}, {0, 1, 20, 1}, {0, 1, 30, 1}, {0, 0, 50, 1},
      // user 1: equal times keep file order: 0 -> 3 -> 2
      {1, 0, 5, 1}, {1, 3, 5, 1}, {1, 2, 6, 1},
      // user 2: a single event, no transition
      {2, 4, 1, 1}};
  const MarkovTransitions m = FitMarkovTransitions(events, 3, 5, 10);
  ASSERT_EQ(m.rows(), 5);
  // From 0: 0->1 (user 0), 0->3 (user 1): ties by id.
  EXPECT_EQ(Ids(m, 0), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(Probs(m, 0), (std::vector<float>{0.5f, 0.5f}));
  EXPECT_EQ(Ids(m, 1), (std::vector<int32_t>{2}));  // 1->1 dropped
  EXPECT_EQ(Probs(m, 1), (std::vector<float>{1.0f}));
  EXPECT_EQ(Ids(m, 2), (std::vector<int32_t>{0}));
  EXPECT_EQ(Ids(m, 3), (std::vector<int32_t>{2}));
  EXPECT_TRUE(Ids(m, 4).empty());

  // top_n = 1 keeps the most frequent successor.
  std::vector<Interaction> more = events;
  more.push_back({3, 0, 1, 1});
  more.push_back({3, 3, 2, 1});
  const MarkovTransitions top = FitMarkovTransitions(more, 4, 5, 1);
  EXPECT_EQ(Ids(top, 0), (std::vector<int32_t>{3}));
  EXPECT_FLOAT_EQ(Probs(top, 0)[0], 2.0f / 3.0f);
}

}  // namespace
}  // namespace recsys
