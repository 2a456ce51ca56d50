#include "common/bundle/category_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bundle/model_bundle.h"

namespace recsys {
namespace {

using Ints = std::vector<int32_t>;

Ints Found(const CategoryIndex& index, absl::string_view name) {
  Ints out;
  index.Find(name, &out);
  return out;
}

Ints Items(const CategoryIndex& index, int32_t c) {
  std::span<const ItemIndex> s = index.items(c);
  return Ints(s.begin(), s.end());
}

// Each category lists its items in ascending order (an item listing a
// category twice once; indices out of range ignored); names are found
// ignoring ASCII case, every category of that name.
TEST(CategoryIndexTest, ItemsPerCategoryAndCaseInsensitiveNames) {
  const std::vector<std::string> names = {"Comedy", "Drama", "drama", "Sci-Fi", "Empty"};
  const std::vector<Ints> lists = {{0, 1}, {1}, {3, 3, 0}, {}, {2, 7, -1}, {1}};
  const CategoryIndex index =
      CategoryIndex::Build(names, static_cast<int32_t>(lists.size()),
                           [&](ItemIndex i) { return std::span<const int32_t>(lists[i]); });
  EXPECT_EQ(index.num_categories(), 5);
  EXPECT_EQ(Items(index, 0), (Ints{0, 2}));
  EXPECT_EQ(Items(index, 1), (Ints{0, 1, 5}));
  EXPECT_EQ(Items(index, 2), (Ints{4}));
  EXPECT_EQ(Items(index, 3), (Ints{2}));
  EXPECT_EQ(Items(index, 4), Ints{});
  EXPECT_EQ(Items(index, 5), Ints{});
  EXPECT_EQ(Items(index, -1), Ints{});

  EXPECT_EQ(Found(index, "Comedy"), (Ints{0}));
  EXPECT_EQ(Found(index, "COMEDY"), (Ints{0}));
  EXPECT_EQ(Found(index, "drama"), (Ints{1, 2}));
  EXPECT_EQ(Found(index, "sci-fi"), (Ints{3}));
  EXPECT_EQ(Found(index, "Sci Fi"), Ints{});
  EXPECT_EQ(Found(index, ""), Ints{});
  EXPECT_EQ(Found(CategoryIndex(), "Comedy"), Ints{});
}

// A catalogue built by hand and indexed has the same index as one loaded
// (ModelBundle::Load builds it from the mapped category lists).
TEST(CategoryIndexTest, CatalogueIndexCategoriesBuildsIt) {
  Catalogue c;
  c.category_names = {"A", "B"};
  for (int i = 0; i < 4; ++i) {
    c.ids.GetOrAdd("m" + std::to_string(i));
    c.categories.push_back({i % 2});
  }
  EXPECT_EQ(c.category_index.num_categories(), 0);
  c.IndexCategories();
  EXPECT_EQ(Items(c.category_index, 1), (Ints{1, 3}));
  EXPECT_EQ(Found(c.category_index, "b"), (Ints{1}));
}

}  // namespace
}  // namespace recsys
