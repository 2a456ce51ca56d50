// ArrayStore: owned and mapped storage behave alike for readers; building a
// mapped array copies it first; copies and moves keep the right storage.
#include "common/bundle/array_store.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/bundle/array_file.h"

namespace recsys {
namespace {

ArrayStore<int32_t> MappedInts(const std::vector<int32_t>& values) {
  std::string dir = ::testing::TempDir() + "array_store_test-XXXXXX";
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  EXPECT_TRUE(WriteInt32Array(dir + "/a.arr", {values.size()}, values.data()).ok());
  auto mapped = MapInt32Array(dir + "/a.arr");
  EXPECT_TRUE(mapped.ok()) << mapped.status();
  return std::move(mapped->values);
}

// Owned storage builds like a vector and reads like a span.
TEST(ArrayStore, OwnedBuildsLikeAVector) {
  ArrayStore<int64_t> a;
  EXPECT_TRUE(a.empty());
  a.push_back(3);
  a.reserve(10);
  a.push_back(4);
  const std::vector<int64_t> more = {5, 6};
  a.append(more.begin(), more.end());
  EXPECT_FALSE(a.mapped());
  EXPECT_GE(a.capacity(), 4u);
  EXPECT_EQ(a, (std::vector<int64_t>{3, 4, 5, 6}));
  a.pop_back();
  EXPECT_EQ(a.back(), 5);
  std::span<const int64_t> s = a;
  EXPECT_EQ(s.size(), 3u);
  a = {7, 8};
  EXPECT_EQ(a.ToVector(), (std::vector<int64_t>{7, 8}));
  a.clear();
  EXPECT_TRUE(a.empty());
}

// Copies of owned storage are deep; moves leave the source empty.
TEST(ArrayStore, OwnedCopyAndMove) {
  ArrayStore<float> a = std::vector<float>{1, 2, 3};
  ArrayStore<float> b = a;
  b.push_back(4);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 4u);
  const float* data = b.data();
  ArrayStore<float> c = std::move(b);
  EXPECT_EQ(c.data(), data);  // the buffer moved, not copied
  EXPECT_TRUE(b.empty());     // NOLINT: moved-from state is specified
  EXPECT_EQ(b.data(), nullptr);
}

// Mapped storage reads the file's values; copies share the mapping; building
// on it copies into owned storage and leaves other views untouched.
TEST(ArrayStore, MappedCopyOnWrite) {
  const std::vector<int32_t> values = {10, 20, 30, 40};
  ArrayStore<int32_t> m = MappedInts(values);
  ASSERT_TRUE(m.mapped());
  EXPECT_EQ(m, values);
  EXPECT_EQ(m[2], 30);
  ArrayStore<int32_t> shared = m;
  EXPECT_TRUE(shared.mapped());
  EXPECT_EQ(shared.data(), m.data());
  shared.push_back(50);
  EXPECT_FALSE(shared.mapped());
  EXPECT_EQ(shared, (std::vector<int32_t>{10, 20, 30, 40, 50}));
  EXPECT_TRUE(m.mapped());
  EXPECT_EQ(m, values);
  ArrayStore<int32_t> moved = std::move(m);
  EXPECT_TRUE(moved.mapped());
  EXPECT_FALSE(m.mapped());  // NOLINT: moved-from state is specified
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(moved, values);
  EXPECT_TRUE(moved == ArrayStore<int32_t>(values));  // equal across storages
}

}  // namespace
}  // namespace recsys
