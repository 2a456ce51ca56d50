#include "common/models/item_votes.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace recsys {
namespace {

// Sums per item in Add order, first-vote order of items, 0 for absent items;
// growing far past the reserved size and Reset keep that.
TEST(ItemVotes, SumsLookupsAndGrowth) {
  ItemVotes votes;
  EXPECT_EQ(votes.Get(3), 0.0f);  // never reset: empty
  votes.Add(7, 1.5f);             // Add without Reset works too
  EXPECT_EQ(votes.Get(7), 1.5f);
  for (size_t reserve : {0, 4, 100000}) {
    votes.Reset(reserve);
    EXPECT_TRUE(votes.empty());
    std::mt19937 rng(static_cast<uint32_t>(reserve));
    std::map<ItemIndex, float> expected;
    std::vector<ItemIndex> order;
    for (int k = 0; k < 50000; ++k) {
      // Clustered and spread ids: consecutive runs and multiples of 2^16.
      const ItemIndex item = k % 3 == 0 ? static_cast<ItemIndex>(rng() % 2000)
                                        : static_cast<ItemIndex>((rng() % 4000) << 16);
      const float v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
      if (!expected.count(item)) order.push_back(item);
      expected[item] += v;
      votes.Add(item, v);
    }
    ASSERT_EQ(votes.size(), expected.size());
    votes.Finish();
    for (size_t i = 0; i < order.size(); ++i) {
      EXPECT_EQ(votes.items()[i], order[i]);
      EXPECT_EQ(votes.scores()[i], expected[order[i]]);
    }
    for (const auto& [item, sum] : expected) EXPECT_EQ(votes.Get(item), sum);
    EXPECT_EQ(votes.Get(2000), 0.0f);
    EXPECT_EQ(votes.Get(123457), 0.0f);
  }
}

}  // namespace
}  // namespace recsys
