#include "common/retrieval/category_hints.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/retrieval/sources/trending.h"

namespace recsys {
namespace {

using Ints = std::vector<int32_t>;

constexpr int32_t kItems = 2000;
constexpr int64_t kStart = 1600000000;

// 2,000 items; categories: 0 "Big" (even items, 1,000), 1 "Mid" (i % 10 == 3,
// 200), 2 "Small" (i % 100 == 7, 20), 3 "Rare" (5 items), 4 "Drama" and 5
// "drama" (one item each); 60,000 events over 60 days, skewed to low indices.
ModelBundle TestBundle() {
  ModelBundle b;
  Catalogue& c = b.catalogue;
  c.category_names = {"Big", "Mid", "Small", "Rare", "Drama", "drama"};
  for (int32_t i = 0; i < kItems; ++i) {
    c.ids.GetOrAdd(absl::StrCat("i", i));
    c.titles.push_back(absl::StrCat("Item ", i));
    Ints cats;
    if (i % 2 == 0) cats.push_back(0);
    if (i % 10 == 3) cats.push_back(1);
    if (i % 100 == 7) cats.push_back(2);
    if (i == 11 || i == 501 || i == 1203 || i == 1999 || i == 77) cats.push_back(3);
    if (i == 5) cats.push_back(4);
    if (i == 9) cats.push_back(5);
    c.categories.push_back(cats);
  }
  c.IndexCategories();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Interaction> events;
  for (int e = 0; e < 60000; ++e) {
    const auto item = static_cast<ItemIndex>(std::pow(u(rng), 2.0) * kItems);
    events.push_back(Interaction{0, item, kStart + static_cast<int64_t>(u(rng) * 60 * 86400), 1});
  }
  b.trending = TrendingModel(events, kItems, 7 * 86400.0);
  return b;
}

// The rule by brute force: dense scores, every item in RanksBefore order,
// hinted ones first.
HintedTrending Reference(const ModelBundle& b, int64_t as_of, const Ints& hints, int k,
                         const std::vector<bool>& skipped) {
  std::vector<float> scores;
  b.trending.ScoresAsOf(as_of, &scores);
  std::vector<ScoredIndex> all;
  for (ItemIndex i = 0; i < kItems; ++i) {
    if (!skipped[i]) all.push_back(ScoredIndex{i, scores[i]});
  }
  std::sort(all.begin(), all.end(), RanksBefore);
  auto hinted = [&](ItemIndex i) {
    for (int32_t c : b.catalogue.item_categories(i)) {
      if (std::find(hints.begin(), hints.end(), c) != hints.end()) return true;
    }
    return false;
  };
  HintedTrending out;
  for (const ScoredIndex& s : all) {
    if (static_cast<int>(out.items.size()) < k && hinted(s.item)) out.items.push_back(s);
  }
  out.hinted = static_cast<int>(out.items.size());
  for (const ScoredIndex& s : all) {
    if (static_cast<int>(out.items.size()) < k && !hinted(s.item)) out.items.push_back(s);
  }
  return out;
}

// Names resolve ignoring ASCII case (a name may match several categories);
// unknown names are counted, repeated ones collapse.
TEST(CategoryHintsTest, NamesResolveIgnoringCase) {
  const ModelBundle b = TestBundle();
  const std::vector<std::string> names = {"small", "BIG", "nope", "Small", "drama", ""};
  const CategoryHints hints = ResolveCategoryHints(b.catalogue, names);
  EXPECT_EQ(hints.categories, (Ints{0, 2, 4, 5}));
  EXPECT_EQ(hints.unknown, 2);
  EXPECT_TRUE(ResolveCategoryHints(b.catalogue, std::vector<std::string>{}).categories.empty());
}

// HintedTrendingTop equals the brute-force rule, item for item and score for
// score: small and large hinted sets (scored directly or walked in trending
// order), several k, "now" and a past time, with skipped items.
TEST(CategoryHintsTest, HintedTrendingEqualsTheDenseRule) {
  const ModelBundle b = TestBundle();
  std::vector<bool> skipped(kItems, false);
  for (ItemIndex i = 0; i < kItems; i += 3) skipped[i] = true;
  const auto skip = [&](ItemIndex i) { return static_cast<bool>(skipped[i]); };
  for (const int64_t as_of : {b.trending.latest_time(), kStart + 30 * 86400}) {
    const TrendingAsOf trending(b.trending, as_of);
    for (const Ints& hints : {Ints{}, Ints{2}, Ints{1}, Ints{0}, Ints{1, 2}, Ints{3}, Ints{0, 3}}) {
      for (const int k : {1, 10, 50, 300}) {
        const HintedTrending got = HintedTrendingTop(b.catalogue, trending, hints, k, skip);
        const HintedTrending want = Reference(b, as_of, hints, k, skipped);
        const std::string where = absl::StrCat("as_of ", as_of, ", hints ", hints.size(),
                                               hints.empty() ? -1 : hints[0], ", k ", k);
        EXPECT_EQ(got.hinted, want.hinted) << where;
        ASSERT_EQ(got.items.size(), want.items.size()) << where;
        for (size_t j = 0; j < got.items.size(); ++j) {
          EXPECT_EQ(got.items[j].item, want.items[j].item) << where << " at " << j;
          EXPECT_EQ(got.items[j].score, want.items[j].score) << where << " at " << j;
        }
      }
    }
  }
}

UserState ColdState(const ModelBundle& b, Ints hints) {
  UserState st;
  st.as_of_s = b.trending.latest_time();
  st.trending = TrendingAsOf(b.trending, st.as_of_s);
  st.exclude = {7, 107};
  st.category_hints = std::move(hints);
  return st;
}

// The trending source, cold start with hints: the hinted items first with
// their trending scores, then the rest in trending order scored
// -1 / (1 + trending), the whole list in RanksBefore order; no hints, or a
// known history, is plain trending.
TEST(CategoryHintsTest, TrendingSourceListsHintedItemsFirstOrderedByScore) {
  const ModelBundle b = TestBundle();
  const retrieval::TrendingRetriever source;
  UserState st = ColdState(b, {2});
  const absl::StatusOr<std::vector<ScoredIndex>> list = source.Retrieve(b, st, 50);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 50u);
  const std::span<const ItemIndex> small = b.catalogue.category_index.items(2);
  for (size_t j = 0; j < list->size(); ++j) {
    const ScoredIndex& s = (*list)[j];
    const bool in_small = std::binary_search(small.begin(), small.end(), s.item);
    EXPECT_EQ(in_small, j < 18) << j;  // 20 Small items, 2 of them excluded
    EXPECT_FALSE(st.Skips(s.item));
    if (j < 18) {
      EXPECT_EQ(s.score, st.trending.score(s.item));
    } else {
      EXPECT_EQ(s.score, -1.0f / (1.0f + st.trending.score(s.item)));
      EXPECT_LT(s.score, 0.0f);
    }
    if (j > 0) EXPECT_TRUE(RanksBefore((*list)[j - 1], s)) << j;
  }

  const std::vector<ScoredIndex> plain =
      st.trending.Top(50, [&](ItemIndex i) { return st.Skips(i); });
  auto ids = [](const std::vector<ScoredIndex>& v) {
    Ints out;
    for (const ScoredIndex& s : v) out.push_back(s.item);
    return out;
  };
  st.category_hints.clear();
  EXPECT_EQ(ids(*source.Retrieve(b, st, 50)), ids(plain));
  st = ColdState(b, {2});
  st.history.push_back(Interaction{0, 1, kStart, 1});
  EXPECT_EQ(ids(*source.Retrieve(b, st, 50)), ids(plain));
}

}  // namespace
}  // namespace recsys
