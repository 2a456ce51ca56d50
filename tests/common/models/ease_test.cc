#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/bundle/array_file.h"
#include "common/models/ease.h"

namespace recsys {
namespace {

constexpr int kUsers = 6;
constexpr int kItems = 5;
constexpr double kLambda = 0.5;

// Six users over five items; user 0 repeats item 1 (X stays binary).
std::vector<Interaction> HandMade() {
  const std::vector<std::vector<ItemIndex>> rows = {{0, 1, 2, 1}, {0, 1}, {1, 2, 3},
                                                    {2, 3, 4},    {3, 4}, {0, 4}};
  std::vector<Interaction> events;
  for (UserIndex u = 0; u < kUsers; ++u) {
    for (ItemIndex i : rows[u]) events.push_back({u, i, 0, 1.0f});
  }
  return events;
}

// B from the textbook formula with a dense double inverse.
Eigen::MatrixXd ExpectedB() {
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(kUsers, kItems);
  for (const Interaction& e : HandMade()) x(e.user, e.item) = 1.0;
  Eigen::MatrixXd g = x.transpose() * x;
  g.diagonal().array() += kLambda;
  const Eigen::MatrixXd p = g.inverse();
  Eigen::MatrixXd b(kItems, kItems);
  for (int i = 0; i < kItems; ++i) {
    for (int j = 0; j < kItems; ++j) b(i, j) = i == j ? 0.0 : -p(i, j) / p(j, j);
  }
  return b;
}

// Row i of B, read through Score on the one-item history {i}.
std::vector<float> Row(const EaseModel& m, ItemIndex i) {
  std::vector<float> s;
  const std::vector<ItemIndex> h = {i};
  m.Score(h, &s);
  return s;
}

// B matches a direct Eigen inverse, with a zero diagonal.
TEST(Ease, MatchesDirectInverse) {
  const auto m = EaseModel::Fit(HandMade(), kUsers, kItems, kLambda);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->num_items(), kItems);
  const Eigen::MatrixXd expected = ExpectedB();
  for (ItemIndex i = 0; i < kItems; ++i) {
    const std::vector<float> row = Row(*m, i);
    ASSERT_EQ(row.size(), static_cast<size_t>(kItems));
    EXPECT_EQ(row[i], 0.0f);
    for (ItemIndex j = 0; j < kItems; ++j) {
      EXPECT_NEAR(row[j], expected(i, j), 1e-5) << "B[" << i << "][" << j << "]";
    }
  }
}

// Score sums the rows of the distinct known history items.
TEST(Ease, ScoreSumsRows) {
  const auto m = EaseModel::Fit(HandMade(), kUsers, kItems, kLambda);
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<float> r0 = Row(*m, 0), r3 = Row(*m, 3);
  std::vector<float> s;
  const std::vector<ItemIndex> history = {3, 0, 3, -1, 99};
  m->Score(history, &s);
  ASSERT_EQ(s.size(), static_cast<size_t>(kItems));
  for (ItemIndex j = 0; j < kItems; ++j) EXPECT_FLOAT_EQ(s[j], r0[j] + r3[j]);
  m->Score({}, &s);
  EXPECT_EQ(s, std::vector<float>(kItems, 0.0f));
}

// Catalogues beyond the dense limit and non-positive lambdas are refused.
TEST(Ease, RefusesBadArguments) {
  EXPECT_EQ(EaseModel::Fit({}, 1, 30001, 100.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EaseModel::Fit(HandMade(), kUsers, kItems, 0.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EaseModel::Fit(HandMade(), kUsers, kItems, kLambda, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Save then Load gives the same scores; a non-square file is refused by name.
TEST(Ease, SaveLoadRoundTrip) {
  const auto m = EaseModel::Fit(HandMade(), kUsers, kItems, kLambda);
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string dir = testing::TempDir() + "/ease_test_roundtrip";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto files = m->Save(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, std::vector<std::string>{"ease.arr"});
  const auto loaded = EaseModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->num_items(), kItems);
  for (ItemIndex i = 0; i < kItems; ++i) EXPECT_EQ(Row(*loaded, i), Row(*m, i));

  const std::vector<float> wrong(6, 0.0f);
  ASSERT_TRUE(WriteFloatArray(dir + "/ease.arr", {2, 3}, wrong.data()).ok());
  const auto bad = EaseModel::Load(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ease.arr"), std::string::npos) << bad.status();
}

// Per-item scores equal the dense vector bit for bit (the ranker relies on
// it), for dense and pruned B.
TEST(Ease, ScoreOneMatchesDenseScore) {
  for (const int keep : {0, 2}) {
    const auto m = EaseModel::Fit(HandMade(), kUsers, kItems, kLambda, keep);
    ASSERT_TRUE(m.ok()) << m.status();
    const std::vector<ItemIndex> history = {3, 0, 3, 1, 99};
    const std::vector<float> weights = {0.25f, 1.0f, 0.5f, 0.0f, 1.0f};
    std::vector<float> dense;
    m->Score(history, weights, &dense);
    const auto weighted = m->WeightedItems(history, weights);
    for (ItemIndex j = 0; j < kItems; ++j) {
      EXPECT_EQ(m->ScoreOne(weighted, j), dense[j]) << "keep " << keep << ", item " << j;
    }
    EXPECT_EQ(m->ScoreOne(weighted, -1), 0.0f);
    EXPECT_EQ(m->ScoreOne(weighted, kItems), 0.0f);
  }
}

// 150 users over 80 items with popular low indices: dense enough that long
// histories sum many terms, so a different summation order would show.
std::vector<Interaction> RandomEvents() {
  std::mt19937_64 rng(5);
  std::vector<Interaction> events;
  for (UserIndex u = 0; u < 150; ++u) {
    const int n = 3 + static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) {
      const double r = std::uniform_real_distribution<double>(0, 1)(rng);
      events.push_back({u, static_cast<ItemIndex>(80 * r * r), k, 1.0f});
    }
  }
  return events;
}

// On long weighted histories, ScoreOne stays bit-identical to Score for
// dense B and for every pruning level.
TEST(Ease, ScoreOneMatchesScoreOnLongHistories) {
  std::mt19937_64 rng(9);
  std::vector<ItemIndex> history;
  std::vector<float> weights;
  for (int k = 0; k < 120; ++k) {
    history.push_back(static_cast<ItemIndex>(rng() % 85) - 2);
    weights.push_back(k % 11 == 0 ? 0.0f : std::uniform_real_distribution<float>(0, 1)(rng));
  }
  for (const int keep : {0, 1, 7, 32, 200}) {
    const auto m = EaseModel::Fit(RandomEvents(), 150, 80, 10.0, keep);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->sparse(), keep > 0);
    std::vector<float> dense;
    m->Score(history, weights, &dense);
    const auto weighted = m->WeightedItems(history, weights);
    for (ItemIndex j = 0; j < 80; ++j) {
      ASSERT_EQ(m->ScoreOne(weighted, j), dense[j]) << "keep " << keep << ", item " << j;
    }
  }
}

// Pruning keeps, per row, the `keep` largest-|value| entries of the dense B
// with their exact values and zeroes the rest; a keep that covers whole rows
// scores like dense B.
TEST(Ease, PruningKeepsLargestEntries) {
  const auto full = EaseModel::Fit(RandomEvents(), 150, 80, 10.0);
  ASSERT_TRUE(full.ok()) << full.status();
  constexpr int kKeep = 7;
  const auto pruned = EaseModel::Fit(RandomEvents(), 150, 80, 10.0, kKeep);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_LE(pruned->num_entries(), 80 * kKeep);
  EXPECT_EQ(full->num_entries(), 80 * 80);
  for (ItemIndex i = 0; i < 80; ++i) {
    const std::vector<float> d = Row(*full, i), p = Row(*pruned, i);
    int kept = 0, nonzero = 0;
    float smallest_kept = INFINITY, largest_dropped = 0.0f;
    for (ItemIndex j = 0; j < 80; ++j) {
      nonzero += d[j] != 0.0f;
      if (p[j] != 0.0f) {
        EXPECT_EQ(p[j], d[j]) << i << "," << j;
        ++kept;
        smallest_kept = std::min(smallest_kept, std::fabs(p[j]));
      } else {
        largest_dropped = std::max(largest_dropped, std::fabs(d[j]));
      }
    }
    EXPECT_EQ(kept, std::min(kKeep, nonzero)) << "row " << i;
    if (kept > 0) {
      EXPECT_LE(largest_dropped, smallest_kept) << "row " << i;
    }
  }
  const auto covering = EaseModel::Fit(RandomEvents(), 150, 80, 10.0, 80);
  ASSERT_TRUE(covering.ok()) << covering.status();
  EXPECT_TRUE(covering->sparse());
  std::vector<float> a, b;
  const std::vector<ItemIndex> history = {0, 5, 17, 42, 79};
  full->Score(history, &a);
  covering->Score(history, &b);
  EXPECT_EQ(a, b);
}

// A pruned model saves as three CSR arrays and loads back to the same
// scores; an unsorted row is refused, naming the file.
TEST(Ease, SparseSaveLoadRoundTrip) {
  const auto m = EaseModel::Fit(RandomEvents(), 150, 80, 10.0, 5);
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string dir = testing::TempDir() + "/ease_test_sparse";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto files = m->Save(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files,
            (std::vector<std::string>{"ease.offsets.arr", "ease.cols.arr", "ease.values.arr"}));
  const auto loaded = EaseModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->sparse());
  EXPECT_EQ(loaded->num_items(), 80);
  EXPECT_EQ(loaded->num_entries(), m->num_entries());
  for (ItemIndex i = 0; i < 80; ++i) EXPECT_EQ(Row(*loaded, i), Row(*m, i));

  auto cols = ReadInt32Array(dir + "/ease.cols.arr");
  ASSERT_TRUE(cols.ok()) << cols.status();
  std::swap(cols->values[0], cols->values[1]);  // row 0 out of order
  ASSERT_TRUE(
      WriteInt32Array(dir + "/ease.cols.arr", cols->dims, cols->values.data()).ok());
  const auto bad = EaseModel::Load(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ease.cols.arr"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace recsys

namespace recsys {
namespace {

// A model on the most popular items equals a full fit on the data restricted
// to them, read through catalogue indices; other items neither vote nor score.
TEST(Ease, SubsetOfPopularItemsEqualsAFitOnThem) {
  // Catalogue of 8: items 0..4 carry HandMade(); 5, 6 and 7 one event each.
  std::vector<Interaction> events = HandMade();
  events.push_back({0, 5, 0, 1.0f});
  events.push_back({1, 6, 0, 1.0f});
  events.push_back({2, 7, 0, 1.0f});
  for (const int keep : {0, 3}) {
    const auto subset = EaseModel::Fit(events, kUsers, 8, kLambda, keep, /*max_items=*/kItems);
    ASSERT_TRUE(subset.ok()) << subset.status();
    const auto full = EaseModel::Fit(HandMade(), kUsers, kItems, kLambda, keep);
    ASSERT_TRUE(full.ok()) << full.status();
    EXPECT_TRUE(subset->subset());
    EXPECT_EQ(subset->num_items(), kItems);
    EXPECT_TRUE(subset->FitsCatalogue(8));
    EXPECT_FALSE(full->subset());
    for (ItemIndex l = 0; l < kItems; ++l) EXPECT_EQ(subset->global_item(l), l);
    EXPECT_EQ(subset->Position(6), -1);
    const std::vector<ItemIndex> history = {1, 6, 3};  // 6 is outside the model
    const std::vector<ItemIndex> known = {1, 3};
    std::vector<float> a, b;
    subset->Score(history, &a);
    full->Score(known, &b);
    EXPECT_EQ(a, b);
    const std::vector<float> w(history.size(), 1.0f);
    const auto weighted = subset->WeightedItems(history, w);
    for (ItemIndex j = 0; j < 8; ++j) {
      EXPECT_EQ(subset->ScoreOne(weighted, j), subset->ScoreAt(a, j)) << j;
    }
    EXPECT_EQ(subset->ScoreAt(a, 7), 0.0f);

    const std::string dir = testing::TempDir() + "/ease_test_subset";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto files = subset->Save(dir);
    ASSERT_TRUE(files.ok()) << files.status();
    EXPECT_EQ(files->front(), "ease.items.arr");
    const auto loaded = EaseModel::Load(dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_TRUE(loaded->subset());
    std::vector<float> c;
    loaded->Score(history, &c);
    EXPECT_EQ(c, a);
    // Crafted item lists are refused: wrong length, not ascending.
    const std::vector<int32_t> unsorted = {0, 2, 1, 3, 4};
    ASSERT_TRUE(WriteInt32Array(dir + "/ease.items.arr", {5}, unsorted.data()).ok());
    EXPECT_FALSE(EaseModel::Load(dir).ok());
    ASSERT_TRUE(WriteInt32Array(dir + "/ease.items.arr", {3}, unsorted.data()).ok());
    EXPECT_FALSE(EaseModel::Load(dir).ok());
  }
}

}  // namespace
}  // namespace recsys
