#include "common/models/als.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/bundle/array_file.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/topk.h"

namespace recsys {
namespace {

constexpr int kClusterUsers = 20;  // per cluster

// Users 0..19 (cluster A) each consume 5 random items of 0..9, users 20..39
// (cluster B) 5 of items 10..19; the first item of each user is repeated.
std::vector<Interaction> TwoClusters() {
  std::mt19937_64 rng(1);
  std::vector<Interaction> events;
  for (UserIndex u = 0; u < 2 * kClusterUsers; ++u) {
    const ItemIndex base = u < kClusterUsers ? 0 : 10;
    std::vector<ItemIndex> items = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    std::shuffle(items.begin(), items.end(), rng);
    for (int k = 0; k < 5; ++k) events.push_back({u, base + items[k], k, 1.0f});
    events.push_back({u, base + items[0], 5, 1.0f});
  }
  return events;
}

// 300 users with 5..40 events each over 120 items, skewed towards low indices.
std::vector<Interaction> RandomEvents() {
  std::mt19937_64 rng(7);
  std::vector<Interaction> events;
  for (UserIndex u = 0; u < 300; ++u) {
    const int n = 5 + static_cast<int>(rng() % 36);
    for (int k = 0; k < n; ++k) {
      const double r = std::uniform_real_distribution<double>(0, 1)(rng);
      events.push_back({u, static_cast<ItemIndex>(120 * r * r), k, 1.0f});
    }
  }
  return events;
}

AlsParams SmallParams() {
  AlsParams p;
  p.factors = 4;
  p.iterations = 15;
  p.cg_steps = 3;
  p.threads = 1;
  return p;
}

std::vector<float> Scores(const AlsModel& m, const std::vector<float>& user) {
  std::vector<float> s(m.num_items(), 0.0f);
  for (ItemIndex i = 0; i < m.num_items(); ++i) {
    for (int j = 0; j < m.factors(); ++j) s[i] += user[j] * m.item_factor(i)[j];
  }
  return s;
}

double Cosine(const float* a, const float* b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int j = 0; j < d; ++j) {
    ab += double{a[j]} * b[j];
    aa += double{a[j]} * a[j];
    bb += double{b[j]} * b[j];
  }
  return ab / std::sqrt(aa * bb);
}

std::string TempDir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/als_test_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A cluster-A history ranks every unseen cluster-A item above every cluster-B item.
TEST(Als, FoldInRanksOwnClusterFirst) {
  const AlsModel m = AlsModel::Fit(TwoClusters(), 2 * kClusterUsers, 20, SmallParams());
  ASSERT_EQ(m.factors(), 4);
  ASSERT_EQ(m.num_items(), 20);
  const std::vector<ItemIndex> history = {0, 1, 2};
  const std::vector<float> s = Scores(m, m.FoldIn(history));
  float worst_a = INFINITY, best_b = -INFINITY;
  for (ItemIndex i = 3; i < 10; ++i) worst_a = std::min(worst_a, s[i]);
  for (ItemIndex i = 10; i < 20; ++i) best_b = std::max(best_b, s[i]);
  EXPECT_GT(worst_a, best_b + 0.2f) << "worst A " << worst_a << ", best B " << best_b;
}

// Early stopping: the fit ends at the first iteration improving the loss by
// less than the tolerance, and equals a fit asked for exactly that many.
TEST(Als, StopsWhenTheLossStopsImproving) {
  AlsParams p = SmallParams();
  p.iterations = 40;
  p.tolerance = 1e-2;
  AlsFitInfo info;
  const AlsModel early = AlsModel::Fit(RandomEvents(), 300, 120, p, &info);
  const size_t ran = info.loss.size();
  ASSERT_GE(ran, 2u);
  ASSERT_LT(ran, 40u);
  EXPECT_LT(info.loss[ran - 2] - info.loss[ran - 1], 1e-2 * info.loss[ran - 2]);
  for (size_t k = 1; k + 1 < ran; ++k) {
    EXPECT_GE(info.loss[k - 1] - info.loss[k], 1e-2 * info.loss[k - 1]) << k;
  }
  p.iterations = static_cast<int>(ran);
  p.tolerance = 0;
  const AlsModel exact = AlsModel::Fit(RandomEvents(), 300, 120, p);
  EXPECT_EQ(early.item_factors(), exact.item_factors());
}

// The training loss never goes up from one iteration to the next, and drops overall.
TEST(Als, LossDecreases) {
  AlsParams p = SmallParams();
  p.iterations = 10;
  p.tolerance = 0;  // every iteration
  AlsFitInfo info;
  AlsModel::Fit(RandomEvents(), 300, 120, p, &info);
  ASSERT_EQ(info.loss.size(), 10u);
  for (size_t k = 1; k < info.loss.size(); ++k) {
    EXPECT_LE(info.loss[k], info.loss[k - 1] * (1 + 1e-5)) << "iteration " << k;
  }
  EXPECT_LT(info.loss.back(), 0.9 * info.loss.front());
}

// With converged CG, folding in a trained user's history recovers that user's factor.
TEST(Als, FoldInMatchesTrainedUser) {
  AlsParams p = SmallParams();
  p.iterations = 40;
  p.cg_steps = 16;
  AlsFitInfo info;
  const std::vector<Interaction> events = RandomEvents();
  const AlsModel m = AlsModel::Fit(events, 300, 120, p, &info);
  const int f = m.factors();
  ASSERT_EQ(info.user_factors.size(), 300u * f);
  std::vector<std::vector<ItemIndex>> histories(300);
  for (const Interaction& e : events) histories[e.user].push_back(e.item);
  for (UserIndex u : {0, 17, 123, 299}) {
    const std::vector<float> x = m.FoldIn(histories[u]);
    EXPECT_GT(Cosine(x.data(), info.user_factors.data() + u * f, f), 0.99) << "user " << u;
  }
}

// Fold-in by a textbook double-precision solve of the header's normal
// equations: A = YtY + reg I + sum_i (c_i - 1) y_i y_i^T, b = sum_i c_i y_i,
// c_i = 1 + alpha * (sum of item i's positive weights), with A built entry by
// entry and solved by full-pivot LU (no shared code path with FoldIn).
std::vector<double> ReferenceFoldIn(const AlsModel& m, const std::vector<ItemIndex>& history,
                                    const std::vector<float>& weights) {
  const int f = m.factors();
  std::vector<double> weight(m.num_items(), 0.0);
  for (size_t k = 0; k < history.size(); ++k) {
    const ItemIndex i = history[k];
    if (i >= 0 && i < m.num_items() && weights[k] > 0) weight[i] += weights[k];
  }
  Eigen::MatrixXd a = Eigen::MatrixXd::Identity(f, f) * m.reg();
  Eigen::VectorXd b = Eigen::VectorXd::Zero(f);
  for (ItemIndex i = 0; i < m.num_items(); ++i) {
    const float* y = m.item_factor(i);
    const double c = 1.0 + m.alpha() * weight[i];
    for (int r = 0; r < f; ++r) {
      if (weight[i] > 0) b[r] += c * y[r];
      for (int s = 0; s < f; ++s) a(r, s) += (weight[i] > 0 ? c : 1.0) * double{y[r]} * y[s];
    }
  }
  const Eigen::VectorXd x = a.fullPivLu().solve(b);
  return std::vector<double>(x.data(), x.data() + f);
}

// FoldIn solves the same normal equations as the reference, to float accuracy,
// with repeats, unknown items and non-positive weights in the history.
TEST(Als, FoldInMatchesReferenceSolve) {
  for (const int factors : {8, 48}) {
    AlsParams p = SmallParams();
    p.factors = factors;
    p.alpha = 2.0;
    p.reg = 0.5;
    p.iterations = 5;
    const AlsModel m = AlsModel::Fit(RandomEvents(), 300, 120, p);
    std::mt19937_64 rng(11);
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<ItemIndex> history;
      std::vector<float> weights;
      const int n = 1 + trial * 40;
      for (int k = 0; k < n; ++k) {
        history.push_back(static_cast<ItemIndex>(rng() % 130) - 5);  // some unknown
        weights.push_back(k % 17 == 3 ? 0.0f
                                      : std::uniform_real_distribution<float>(0.05f, 2.0f)(rng));
      }
      history.push_back(history.front());  // a repeat adds to the same item
      weights.push_back(1.0f);
      const std::vector<double> expected = ReferenceFoldIn(m, history, weights);
      const std::vector<float> x = m.FoldIn(history, weights);
      ASSERT_EQ(x.size(), static_cast<size_t>(factors));
      double err = 0, norm = 0;
      for (int j = 0; j < factors; ++j) {
        err += (x[j] - expected[j]) * (x[j] - expected[j]);
        norm += expected[j] * expected[j];
      }
      ASSERT_GT(norm, 0.0);
      EXPECT_LT(std::sqrt(err / norm), 1e-4) << "factors " << factors << ", trial " << trial;
    }
  }
}

// The same seed gives bit-identical factors with one or two threads.
TEST(Als, DeterministicAcrossThreads) {
  AlsParams p = SmallParams();
  AlsFitInfo info1, info2;
  const AlsModel m1 = AlsModel::Fit(RandomEvents(), 300, 120, p, &info1);
  p.threads = 2;
  const AlsModel m2 = AlsModel::Fit(RandomEvents(), 300, 120, p, &info2);
  EXPECT_EQ(m1.item_factors(), m2.item_factors());
  EXPECT_EQ(info1.user_factors, info2.user_factors);
  EXPECT_EQ(info1.loss, info2.loss);
  p.seed = 43;
  const AlsModel m3 = AlsModel::Fit(RandomEvents(), 300, 120, p);
  EXPECT_NE(m1.item_factors(), m3.item_factors());
}

// Save then Load gives the same factors, parameters and fold-ins.
TEST(Als, SaveLoadRoundTrip) {
  const AlsModel m = AlsModel::Fit(TwoClusters(), 2 * kClusterUsers, 20, SmallParams());
  const std::string dir = TempDir("roundtrip");
  const auto files = m.Save(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, (std::vector<std::string>{"als_items.arr", "als_meta.arr"}));
  const auto loaded = AlsModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->factors(), m.factors());
  EXPECT_EQ(loaded->num_items(), m.num_items());
  EXPECT_EQ(loaded->alpha(), m.alpha());
  EXPECT_EQ(loaded->reg(), m.reg());
  EXPECT_EQ(loaded->item_factors(), m.item_factors());
  const std::vector<ItemIndex> history = {1, 4, 4, 12};
  EXPECT_EQ(loaded->FoldIn(history), m.FoldIn(history));
}

// Item factors whose shape disagrees with the meta file are refused, naming the file.
TEST(Als, LoadRefusesShapeMismatch) {
  const AlsModel m = AlsModel::Fit(TwoClusters(), 2 * kClusterUsers, 20, SmallParams());
  const std::string dir = TempDir("mismatch");
  ASSERT_TRUE(m.Save(dir).ok());
  const std::vector<float> wrong(20 * 3, 0.0f);
  ASSERT_TRUE(WriteFloatArray(dir + "/als_items.arr", {20, 3}, wrong.data()).ok());
  const auto loaded = AlsModel::Load(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("als_items.arr"), std::string::npos) << loaded.status();
  const auto missing = AlsModel::Load(TempDir("empty"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("als_meta.arr"), std::string::npos) << missing.status();
}

// An empty or unknown-only history folds in to the zero vector.
TEST(Als, EmptyHistoryIsZero) {
  const AlsModel m = AlsModel::Fit(TwoClusters(), 2 * kClusterUsers, 20, SmallParams());
  EXPECT_EQ(m.FoldIn({}), std::vector<float>(4, 0.0f));
  const std::vector<ItemIndex> unknown = {-1, 20, 1000};
  EXPECT_EQ(m.FoldIn(unknown), std::vector<float>(4, 0.0f));
}

// Default ALS on MovieLens latest-small: leave-last-out test recall@10 of fold-ins.
TEST(Als, MovieLensRecallSanity) {
  const std::string dir = RECSYS_DATA_DIR "/ml-latest-small";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " not present";
  const auto data = LoadDataset(dir, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  const LeaveLastOutSplit split(*data);
  const auto t0 = std::chrono::steady_clock::now();
  const AlsModel m =
      AlsModel::Fit(split.train(), data->num_users(), data->num_items(), AlsParams{});
  const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int hits = 0, cases = 0;
  std::vector<ItemIndex> history;
  for (const EvalCase& c : split.cases(SplitName::kTest)) {
    history.clear();
    for (const Interaction& e : split.history(c)) history.push_back(e.item);
    const absl::flat_hash_set<ItemIndex> seen(history.begin(), history.end());
    const std::vector<float> scores = Scores(m, m.FoldIn(history));
    const auto top = TopKDense(scores, 10, [&](ItemIndex i) { return seen.contains(i); });
    const ItemIndex target = split.target(c).item;
    for (const ScoredIndex& s : top) hits += s.item == target;
    ++cases;
  }
  ASSERT_GT(cases, 0);
  const double recall = static_cast<double>(hits) / cases;
  std::printf("ALS on ml-latest-small: fit %.2f s, test recall@10 = %.4f over %d cases\n", fit_s,
              recall, cases);
  EXPECT_GE(recall, 0.06);
}

}  // namespace
}  // namespace recsys
