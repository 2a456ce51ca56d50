#include "common/models/itemknn.h"

#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <set>

namespace recsys {
namespace {

// A random neighbour graph: every item lists up to 12 distinct others.
SparseNeighbors RandomNeighbors(int32_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  SparseNeighbors nb;
  nb.offsets.push_back(0);
  for (int32_t i = 0; i < n; ++i) {
    std::set<ItemIndex> row;
    const int len = static_cast<int>(rng() % 13);
    while (static_cast<int>(row.size()) < len) {
      const ItemIndex j = static_cast<ItemIndex>(rng() % n);
      if (j != i) row.insert(j);
    }
    for (ItemIndex j : row) {
      nb.ids.push_back(j);
      nb.values.push_back(std::uniform_real_distribution<float>(-0.2f, 1.0f)(rng));
    }
    nb.offsets.push_back(static_cast<int64_t>(nb.ids.size()));
  }
  return nb;
}

// The dense serving form sums the same votes in the same order as the map form:
// bit-identical scores, and exactly the voted items (each once).
TEST(ItemKnn, ScoreDenseEqualsTheMapForm) {
  const int32_t n = 300;
  const ItemKnnModel model(RandomNeighbors(n, 7));
  std::mt19937 rng(11);
  for (int round = 0; round < 50; ++round) {
    std::vector<ItemIndex> history;
    std::vector<float> weights;
    const int len = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) {
      history.push_back(static_cast<ItemIndex>(rng() % (n + 5)) - 2);  // a few unknown ids
      weights.push_back(k % 7 == 3 ? 0.0f : std::uniform_real_distribution<float>(0.1f, 1.0f)(rng));
    }
    absl::flat_hash_map<ItemIndex, float> map;
    model.Score(history, weights, &map);
    std::vector<float> dense;
    std::vector<ItemIndex> voted;
    model.ScoreDense(history, weights, &dense, &voted);
    ASSERT_EQ(dense.size(), static_cast<size_t>(n));
    ASSERT_EQ(voted.size(), map.size());
    EXPECT_EQ(std::set<ItemIndex>(voted.begin(), voted.end()).size(), voted.size());
    for (ItemIndex j : voted) {
      ASSERT_TRUE(map.contains(j)) << j;
      EXPECT_EQ(std::bit_cast<uint32_t>(dense[j]), std::bit_cast<uint32_t>(map.at(j))) << j;
    }
    for (ItemIndex j = 0; j < n; ++j) {
      if (!map.contains(j)) EXPECT_EQ(dense[j], 0.0f) << j;
    }
  }
}

// Capping users to their most recent distinct items: a cap at or above every
// user's count changes nothing; a tight cap counts only the recent items.
TEST(ItemKnn, FitCapsUsersToTheirMostRecentItems) {
  // User 0 consumed items 0..5 in time order (then 0 again, most recent);
  // users 1 and 2 co-consume 4 and 5.
  std::vector<Interaction> events;
  for (int i = 0; i < 6; ++i) events.push_back({0, i, 10 + i, 1});
  events.push_back({0, 0, 100, 1});
  events.push_back({1, 4, 1, 1});
  events.push_back({1, 5, 2, 1});
  events.push_back({2, 1, 1, 1});
  events.push_back({2, 2, 2, 1});
  ItemKnnParams all{10, 0.0, 2, 0};
  ItemKnnParams wide{10, 0.0, 1, 6};
  const ItemKnnModel a = ItemKnnModel::Fit(events, 3, 6, all);
  const ItemKnnModel b = ItemKnnModel::Fit(events, 3, 6, wide);
  for (ItemIndex i = 0; i < 6; ++i) {
    auto ra = a.neighbors().row_ids(i), rb = b.neighbors().row_ids(i);
    EXPECT_EQ(std::vector<int32_t>(ra.begin(), ra.end()), std::vector<int32_t>(rb.begin(), rb.end()));
  }
  // Cap 3: user 0 keeps 0 (repeated last), 5 and 4; items 1..3 lose user 0.
  const ItemKnnModel c = ItemKnnModel::Fit(events, 3, 6, ItemKnnParams{10, 0.0, 2, 3});
  auto row1 = c.neighbors().row_ids(1);
  EXPECT_EQ(std::vector<int32_t>(row1.begin(), row1.end()), std::vector<int32_t>({2}));
  auto row0 = c.neighbors().row_ids(0);
  EXPECT_EQ(std::set<int32_t>(row0.begin(), row0.end()), std::set<int32_t>({4, 5}));
  EXPECT_TRUE(c.neighbors().row_ids(3).empty());
}

// The sparse serving form equals the dense one on random histories of 10..5000
// items: bit-identical sums, the same voted items in the same (first-vote)
// order, 0 for every item nobody voted for.
TEST(ItemKnn, ScoreSparseEqualsTheDenseForm) {
  const int32_t n = 20000;
  const ItemKnnModel model(RandomNeighbors(n, 5));
  std::mt19937 rng(13);
  for (int len : {0, 1, 10, 100, 1000, 5000}) {
    std::vector<ItemIndex> history;
    std::vector<float> weights;
    for (int k = 0; k < len; ++k) {
      history.push_back(static_cast<ItemIndex>(rng() % (n + 5)) - 2);  // a few unknown ids
      weights.push_back(k % 7 == 3 ? 0.0f : std::uniform_real_distribution<float>(0.1f, 1.0f)(rng));
    }
    std::vector<float> dense;
    std::vector<ItemIndex> voted;
    model.ScoreDense(history, weights, &dense, &voted);
    ItemVotes votes;
    model.ScoreSparse(history, weights, &votes);
    ASSERT_EQ(votes.size(), voted.size()) << len;
    for (size_t v = 0; v < voted.size(); ++v) {
      ASSERT_EQ(votes.items()[v], voted[v]) << len;
      ASSERT_EQ(std::bit_cast<uint32_t>(votes.scores()[v]), std::bit_cast<uint32_t>(dense[voted[v]]));
    }
    for (ItemIndex j = 0; j < n; ++j) {
      ASSERT_EQ(std::bit_cast<uint32_t>(votes.Get(j)), std::bit_cast<uint32_t>(dense[j])) << j;
    }
  }
}

}  // namespace
}  // namespace recsys
