#include "gateway/response_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace recsys::gateway {
namespace {

v1::RecommendResponse Answer(const std::string& item) {
  v1::RecommendResponse r;
  r.add_items()->set_item_id(item);
  r.set_path(v1::PATH_FULL);
  return r;
}

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(ResponseCache, HitOnlyForTheSameUserAndFingerprint) {
  ResponseCache cache(ResponseCacheOptions{1 << 20, absl::Seconds(60), 4});
  cache.Insert({"alice", 1}, kT0, Answer("a1"));
  v1::RecommendResponse out;
  ASSERT_TRUE(cache.Lookup({"alice", 1}, kT0, &out));
  EXPECT_EQ(out.items(0).item_id(), "a1");
  EXPECT_FALSE(cache.Lookup({"alice", 2}, kT0, &out));  // another history/options
  EXPECT_FALSE(cache.Lookup({"bob", 1}, kT0, &out));    // same fingerprint, other user
  cache.Insert({"alice", 1}, kT0, Answer("a2"));        // replaced, not duplicated
  ASSERT_TRUE(cache.Lookup({"alice", 1}, kT0, &out));
  EXPECT_EQ(out.items(0).item_id(), "a2");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ResponseCache, EntriesExpireAfterTheTtl) {
  ResponseCache cache(ResponseCacheOptions{1 << 20, absl::Seconds(10), 1});
  cache.Insert({"alice", 1}, kT0, Answer("a"));
  v1::RecommendResponse out;
  EXPECT_TRUE(cache.Lookup({"alice", 1}, kT0 + absl::Seconds(9), &out));
  EXPECT_FALSE(cache.Lookup({"alice", 1}, kT0 + absl::Seconds(10), &out));
  EXPECT_EQ(cache.size(), 0u);  // the expired entry is dropped
}

TEST(ResponseCache, LeastRecentlyUsedIsEvictedAtTheMemoryBound) {
  // Room for exactly three equal-sized answers in one shard.
  const size_t cost = ResponseCache::Cost({"u", 0}, Answer("0"));
  ResponseCache cache(ResponseCacheOptions{3 * cost + cost / 2, absl::Seconds(60), 1});
  for (uint64_t i = 0; i < 3; ++i) cache.Insert({"u", i}, kT0, Answer(absl::StrCat(i)));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.bytes(), 3 * cost);
  v1::RecommendResponse out;
  ASSERT_TRUE(cache.Lookup({"u", 0}, kT0, &out));  // 0 is now the most recent
  cache.Insert({"u", 3}, kT0, Answer("3"));         // evicts 1
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.Lookup({"u", 0}, kT0, &out));
  EXPECT_FALSE(cache.Lookup({"u", 1}, kT0, &out));
  EXPECT_TRUE(cache.Lookup({"u", 2}, kT0, &out));
  EXPECT_TRUE(cache.Lookup({"u", 3}, kT0, &out));

  // A big answer (many items with long titles) displaces several small ones;
  // one larger than the whole budget is not stored at all.
  v1::RecommendResponse big = Answer("big");
  for (int i = 0; i < 3; ++i) big.add_items()->set_title(std::string(cost / 4, 'x'));
  ASSERT_LT(ResponseCache::Cost({"u", 9}, big), 3 * cost);
  ASSERT_GT(ResponseCache::Cost({"u", 9}, big), cost);
  cache.Insert({"u", 9}, kT0, big);
  EXPECT_TRUE(cache.Lookup({"u", 9}, kT0, &out));
  EXPECT_LE(cache.bytes(), 3 * cost + cost / 2);
  EXPECT_LT(cache.size(), 3u);
  v1::RecommendResponse huge = Answer("huge");
  huge.add_items()->set_title(std::string(4 * cost, 'x'));
  cache.Insert({"u", 10}, kT0, huge);
  EXPECT_FALSE(cache.Lookup({"u", 10}, kT0, &out));
  EXPECT_TRUE(cache.Lookup({"u", 9}, kT0, &out));  // nothing evicted for it
}

TEST(ResponseCache, ZeroBytesDisables) {
  ResponseCache cache(ResponseCacheOptions{0, absl::Seconds(60), 4});
  EXPECT_FALSE(cache.enabled());
  cache.Insert({"alice", 1}, kT0, Answer("a"));
  v1::RecommendResponse out;
  EXPECT_FALSE(cache.Lookup({"alice", 1}, kT0, &out));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ResponseCache, ConcurrentUseStaysWithinTheBound) {
  const size_t budget = 64 * ResponseCache::Cost({"u0", 0}, Answer("0"));
  ResponseCache cache(ResponseCacheOptions{budget, absl::Seconds(60), 8});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      v1::RecommendResponse out;
      for (uint64_t i = 0; i < 2000; ++i) {
        const ResponseCacheKey key{absl::StrCat("u", t), i * 2654435761u};
        if (!cache.Lookup(key, kT0, &out)) cache.Insert(key, kT0, Answer(absl::StrCat(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.bytes(), budget);
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace recsys::gateway
