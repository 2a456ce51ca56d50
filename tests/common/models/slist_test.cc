#include "common/models/slist.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

namespace recsys {
namespace {

// Users who walk 0 -> 1 -> 2 -> ... -> 7 (one step a minute), each starting
// somewhere, plus a few random events.
std::vector<Interaction> Walks(int users, int n) {
  std::vector<Interaction> ev;
  std::mt19937 rng(5);
  for (int u = 0; u < users; ++u) {
    const int start = u % 4;
    for (int k = 0; k < 5; ++k) {
      ev.push_back(Interaction{u, (start + k) % n, 1000 + 60 * k, 1.0f});
    }
  }
  return ev;
}

TEST(SlistModel, InputWeightsDecayWithPositionAndTime) {
  SlistInputs in;
  in.window = 2;
  in.position_decay = 1.0;
  in.time_tau_s = 100.0;
  in.time_floor = 0.5;
  const std::vector<Interaction> h = {{0, 7, 0, 1}, {0, 3, 900, 1}, {0, 4, 1000, 1}};
  std::vector<ItemIndex> items;
  std::vector<float> w;
  SlistModel::InputWeights(in, h, 1000, &items, &w);
  ASSERT_EQ(items, (std::vector<ItemIndex>{4, 3}));  // most recent first, window 2
  EXPECT_FLOAT_EQ(w[0], 1.0f);                       // k = 0, no time gap
  EXPECT_NEAR(w[1], std::exp(-1.0) * (0.5 + 0.5 * std::exp(-1.0)), 1e-6);
  in.position_decay = 0;
  in.time_tau_s = 0;
  SlistModel::InputWeights(in, h, 1000, &items, &w);
  EXPECT_EQ(w, (std::vector<float>{1.0f, 1.0f}));
}

// keep = 0 (dense) B equals the closed form computed independently in double.
TEST(SlistModel, DenseFitEqualsTheClosedForm) {
  const int n = 6, users = 12;
  const std::vector<Interaction> ev = Walks(users, n);
  SlistOptions o;
  o.lambda = 3.0;
  o.alpha = 0.4;
  o.keep = 0;
  o.max_items = 0;
  o.inputs.window = 3;
  o.inputs.position_decay = 2.0;
  o.inputs.time_tau_s = 120.0;
  o.inputs.time_floor = 0.3;
  auto model = SlistModel::Fit(ev, users, n, o);
  ASSERT_TRUE(model.ok()) << model.status();

  Eigen::MatrixXd xtx = Eigen::MatrixXd::Zero(n, n), sts = xtx, stt = xtx;
  for (int u = 0; u < users; ++u) {
    std::vector<Interaction> seq;
    for (const Interaction& e : ev) {
      if (e.user == u) seq.push_back(e);
    }
    Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
    for (const Interaction& e : seq) x(e.item) = 1;
    xtx += x * x.transpose();
    for (size_t t = 1; t < seq.size(); ++t) {
      std::vector<ItemIndex> items;
      std::vector<float> w;
      SlistModel::InputWeights(o.inputs, std::span(seq.data(), t), seq[t].timestamp_s, &items, &w);
      Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
      for (size_t k = 0; k < items.size(); ++k) s(items[k]) = std::max<double>(s(items[k]), w[k]);
      sts += s * s.transpose();
      Eigen::VectorXd target = Eigen::VectorXd::Zero(n);
      target(seq[t].item) = 1;
      stt += s * target.transpose();
    }
  }
  const Eigen::MatrixXd a =
      o.alpha * xtx + (1 - o.alpha) * sts + o.lambda * Eigen::MatrixXd::Identity(n, n);
  const Eigen::MatrixXd b = a.ldlt().solve(o.alpha * xtx + (1 - o.alpha) * stt);
  std::vector<float> scores;
  for (int i = 0; i < n; ++i) {
    model->weights().Score(std::vector<ItemIndex>{i}, std::vector<float>{1.0f}, &scores);
    for (int j = 0; j < n; ++j) EXPECT_NEAR(scores[j], b(i, j), 1e-4) << i << "," << j;
  }
}

TEST(SlistModel, TheNextStepScoresHighest) {
  const int n = 8, users = 40;
  SlistOptions o;
  o.lambda = 1.0;
  o.alpha = 0.2;
  o.max_items = 0;
  auto model = SlistModel::Fit(Walks(users, n), users, n, o);
  ASSERT_TRUE(model.ok()) << model.status();
  // Just consumed 2 then 3 (a minute apart): 4 comes next.
  const std::vector<Interaction> h = {{0, 2, 1000, 1}, {0, 3, 1060, 1}};
  std::vector<ItemIndex> items;
  std::vector<float> w;
  SlistModel::InputWeights(o.inputs, h, 1120, &items, &w);
  std::vector<float> scores;
  model->weights().Score(items, w, &scores);
  int best = -1;
  for (int j = 0; j < n; ++j) {
    if (j == 2 || j == 3) continue;
    if (best < 0 || scores[j] > scores[best]) best = j;
  }
  EXPECT_EQ(best, 4);
}

TEST(SlistModel, SavesAndLoadsUnderItsOwnPrefix) {
  const int n = 8, users = 40;
  SlistOptions o;
  o.keep = 3;
  o.max_items = 6;  // the 6 most popular items only
  auto model = SlistModel::Fit(Walks(users, n), users, n, o);
  ASSERT_TRUE(model.ok());
  EXPECT_TRUE(model->weights().subset());
  EXPECT_TRUE(model->weights().sparse());
  const std::string dir = ::testing::TempDir() + "/slist_roundtrip";
  std::filesystem::create_directories(dir);
  auto files = model->Save(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  for (const std::string& f : *files) EXPECT_EQ(f.rfind("slist.", 0), 0u) << f;
  auto loaded = SlistModel::Load(dir, o.inputs);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<float> a, b;
  const std::vector<ItemIndex> h = {0, 1, 2};
  const std::vector<float> w = {0.5f, 0.7f, 1.0f};
  model->weights().Score(h, w, &a);
  loaded->weights().Score(h, w, &b);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(EaseModel::Load(dir).ok()) << "no EASE files there";
}

TEST(SlistModel, RefusesBadOptions) {
  const std::vector<Interaction> ev = Walks(4, 4);
  SlistOptions o;
  o.lambda = 0;
  EXPECT_FALSE(SlistModel::Fit(ev, 4, 4, o).ok());
  o = {};
  o.alpha = 1.5;
  EXPECT_FALSE(SlistModel::Fit(ev, 4, 4, o).ok());
  o = {};
  o.inputs.window = 0;
  EXPECT_FALSE(SlistModel::Fit(ev, 4, 4, o).ok());
  o = {};
  o.inputs.time_floor = 2;
  EXPECT_FALSE(SlistModel::Fit(ev, 4, 4, o).ok());
  o = {};
  o.max_items = 0;
  EXPECT_FALSE(SlistModel::Fit(ev, 4, EaseModel::kMaxItems + 1, o).ok());
  o = {};
  o.max_rows = -1;
  EXPECT_FALSE(SlistModel::Fit(ev, 4, 4, o).ok());
}

// The per-user cap is the largest whose total fits the budget, never below 1
// and never above the per-user bound; 0 when nothing binds.
TEST(SlistRowsPerUser, LargestCapWithinTheBudget) {
  const std::vector<int64_t> rows = {1, 3, 10, 100};
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 0), 0);           // no bound at all
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 1000), 0);        // fits: no bound
  EXPECT_EQ(SlistRowsPerUser(rows, 50, 0), 50);         // the per-user bound alone
  EXPECT_EQ(SlistRowsPerUser(rows, 1000, 1000), 100);   // fits: the largest user's rows
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 114), 0);         // 1 + 3 + 10 + 100 = 114 fits
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 113), 99);        // 1 + 3 + 10 + 99
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 24), 10);         // 1 + 3 + 10 + 10
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 23), 9);          // 1 + 3 + 9 + 9
  EXPECT_EQ(SlistRowsPerUser(rows, 5, 12), 4);          // 1 + 3 + 4 + 4
  EXPECT_EQ(SlistRowsPerUser(rows, 0, 2), 1);           // at least one row each
  EXPECT_EQ(SlistRowsPerUser({}, 10, 5), 0);            // no users: nothing to bound
  // A million users of 50 rows and one of a million: the heavy user is cut.
  std::vector<int64_t> many(1'000'000, 50);
  many.push_back(1'000'000);
  const int64_t cap = SlistRowsPerUser(many, 0, 50'500'000);
  EXPECT_EQ(cap, 500'000);  // the light users alone are 5e7: the heavy one keeps 5e5
}

// A total budget fits exactly the model the equivalent per-user bound fits.
TEST(SlistModel, RowBudgetEqualsTheEquivalentPerUserBound) {
  const int n = 8, users = 40;
  const std::vector<Interaction> ev = Walks(users, n);  // 4 targets per user: 160 rows
  SlistOptions budget;
  budget.max_items = 0;
  budget.keep = 0;
  budget.max_rows = 80;  // 2 per user
  SlistOptions per_user = budget;
  per_user.max_rows = 0;
  per_user.max_rows_per_user = 2;
  auto a = SlistModel::Fit(ev, users, n, budget);
  auto b = SlistModel::Fit(ev, users, n, per_user);
  SlistOptions unbounded = per_user;
  unbounded.max_rows_per_user = 0;
  auto all = SlistModel::Fit(ev, users, n, unbounded);
  ASSERT_TRUE(a.ok() && b.ok() && all.ok());
  const std::vector<ItemIndex> h = {1, 2};
  const std::vector<float> w = {0.5f, 1.0f};
  std::vector<float> sa, sb, sall;
  a->weights().Score(h, w, &sa);
  b->weights().Score(h, w, &sb);
  all->weights().Score(h, w, &sall);
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sall);
}

}  // namespace
}  // namespace recsys
