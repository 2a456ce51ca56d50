#include "common/eval/split.h"

#include <gtest/gtest.h>

namespace recsys {
namespace {

Dataset MakeData(const std::vector<Interaction>& events, int users, int items) {
  Dataset d;
  for (int u = 0; u < users; ++u) d.users.GetOrAdd("u" + std::to_string(u));
  for (int i = 0; i < items; ++i) d.ItemOrAdd("i" + std::to_string(i));
  d.interactions = events;
  return d;
}

// Last by time is test, second-to-last validation; ties keep file order.
TEST(LeaveLastOut, SplitsByTimeWithStableTies) {
  // user 0: file order (i0,t5) (i1,t1) (i2,t5) (i3,t3): sorted i1,i3,i0,i2 (i0 before i2: tie).
  // user 1: only two events -> training only.
  Dataset d = MakeData({{0, 0, 5, 1}, {0, 1, 1, 1}, {1, 4, 2, 1}, {0, 2, 5, 1}, {0, 3, 3, 1},
                        {1, 5, 9, 1}},
                       2, 6);
  LeaveLastOutSplit split(d);
  ASSERT_EQ(split.cases(SplitName::kTest).size(), 1u);
  ASSERT_EQ(split.cases(SplitName::kValidation).size(), 1u);
  const EvalCase& test = split.cases(SplitName::kTest)[0];
  const EvalCase& val = split.cases(SplitName::kValidation)[0];
  EXPECT_EQ(split.target(test).item, 2);
  EXPECT_EQ(split.target(val).item, 0);
  // Validation history = training events; test history adds the validation event.
  ASSERT_EQ(split.history(val).size(), 2u);
  EXPECT_EQ(split.history(val)[0].item, 1);
  EXPECT_EQ(split.history(val)[1].item, 3);
  ASSERT_EQ(split.history(test).size(), 3u);
  EXPECT_EQ(split.history(test)[2].item, 0);
  // Training keeps file order and drops exactly the held-out events.
  std::vector<ItemIndex> train_items;
  for (const Interaction& e : split.train()) train_items.push_back(e.item);
  EXPECT_EQ(train_items, (std::vector<ItemIndex>{1, 4, 3, 5}));
}

// A user with exactly three events has a one-event training history.
TEST(LeaveLastOut, ThreeEventsMinimum) {
  Dataset d = MakeData({{0, 0, 1, 1}, {0, 1, 2, 1}, {0, 2, 3, 1}}, 1, 3);
  LeaveLastOutSplit split(d);
  ASSERT_EQ(split.cases(SplitName::kTest).size(), 1u);
  EXPECT_EQ(split.history(split.cases(SplitName::kValidation)[0]).size(), 1u);
  EXPECT_EQ(split.train().size(), 1u);
}

}  // namespace
}  // namespace recsys
