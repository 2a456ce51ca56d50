#include "common/eval/split.h"

#include <gtest/gtest.h>

#include <algorithm>

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

// Sampling evaluates a deterministic subset of the eligible users (the same
// users in validation and test, in user order) and holds out every eligible
// user's last two events from training whether sampled or not.
TEST(LeaveLastOut, SamplesEvaluationUsersDeterministically) {
  std::vector<Interaction> events;
  const int users = 200;
  for (int u = 0; u < users; ++u) {
    const int n = u % 5 == 0 ? 2 : 4;  // every fifth user is too short to evaluate
    for (int t = 0; t < n; ++t) events.push_back({u, (u + t) % 30, t + 1, 1});
  }
  Dataset d = MakeData(events, users, 30);
  LeaveLastOutSplit full(d);
  EXPECT_EQ(full.eligible_users(), 160);
  EXPECT_FALSE(full.sampled());
  LeaveLastOutSplit a(d, SplitOptions{50, 7}), b(d, SplitOptions{50, 7}), c(d, SplitOptions{50, 8});
  ASSERT_EQ(a.cases(SplitName::kTest).size(), 50u);
  EXPECT_TRUE(a.sampled());
  EXPECT_EQ(a.eligible_users(), 160);
  std::vector<UserIndex> ua, ub, uc, uv;
  for (const EvalCase& e : a.cases(SplitName::kTest)) ua.push_back(e.user);
  for (const EvalCase& e : b.cases(SplitName::kTest)) ub.push_back(e.user);
  for (const EvalCase& e : c.cases(SplitName::kTest)) uc.push_back(e.user);
  for (const EvalCase& e : a.cases(SplitName::kValidation)) uv.push_back(e.user);
  EXPECT_EQ(ua, ub);
  EXPECT_NE(ua, uc);
  EXPECT_EQ(ua, uv);
  EXPECT_TRUE(std::is_sorted(ua.begin(), ua.end()));
  for (UserIndex u : ua) EXPECT_NE(u % 5, 0) << "sampled a user without 3 events";
  // Evaluated users keep their events; the others are not held.
  for (UserIndex u = 0; u < users; ++u) {
    const bool evaluated = std::find(ua.begin(), ua.end(), u) != ua.end();
    EXPECT_EQ(a.user_events(u).size(), evaluated ? 4u : 0u) << u;
  }
  // Training is the same with or without sampling.
  EXPECT_EQ(a.train().size(), full.train().size());
  EXPECT_EQ(a.train().size(), events.size() - 2 * 160);
  // More than there are: all of them.
  LeaveLastOutSplit all(d, SplitOptions{1000, 7});
  EXPECT_EQ(all.cases(SplitName::kTest).size(), 160u);
  EXPECT_FALSE(all.sampled());
}

TEST(LeaveLastOut, SampleCasesIsASubsetInOrder) {
  std::vector<EvalCase> cases;
  for (int u = 0; u < 100; ++u) cases.push_back(EvalCase{u, 3});
  const std::vector<EvalCase> s = SampleCases(cases, 10, 1);
  ASSERT_EQ(s.size(), 10u);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i - 1].user, s[i].user);
  EXPECT_EQ(SampleCaseIndices(cases, 10, 1).size(), 10u);
  EXPECT_EQ(SampleCases(cases, 0, 1).size(), 100u);  // 0 = all
  EXPECT_EQ(SampleCases(cases, 500, 1).size(), 100u);
}

}  // namespace
}  // namespace recsys
