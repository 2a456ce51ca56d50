#include "gateway/cache_key.h"

#include <gtest/gtest.h>

namespace recsys::gateway {
namespace {

v1::RecommendRequest Request() {
  v1::RecommendRequest r;
  r.set_user_id("u1");
  r.set_k(5);
  r.add_exclude_item_ids("x1");
  r.add_context_categories("Drama");
  return r;
}

v1::UserContext User() {
  v1::UserContext u;
  u.set_user_id("u1");
  u.set_as_of_s(100);
  v1::HistoryEvent* e = u.add_history();
  e->set_item_id("m1");
  e->set_timestamp_s(10);
  e->set_weight(1);
  return u;
}

// The same inputs give the same key (stable: no per-process seed); every input
// the answer depends on changes it.
TEST(CacheKeyTest, EveryInputOfTheAnswerChangesTheKey) {
  const ResponseCacheKey key = RecommendCacheKey(Request(), User(), "v1");
  EXPECT_EQ(key.user_id, "u1");
  EXPECT_EQ(key, RecommendCacheKey(Request(), User(), "v1"));

  EXPECT_NE(key.fingerprint, RecommendCacheKey(Request(), User(), "v2").fingerprint);
  v1::RecommendRequest r = Request();
  r.set_k(6);
  EXPECT_NE(key.fingerprint, RecommendCacheKey(r, User(), "v1").fingerprint);
  r = Request();
  r.add_exclude_item_ids("x2");
  EXPECT_NE(key.fingerprint, RecommendCacheKey(r, User(), "v1").fingerprint);
  r = Request();
  r.set_context_categories(0, "Comedy");
  EXPECT_NE(key.fingerprint, RecommendCacheKey(r, User(), "v1").fingerprint);
  v1::UserContext u = User();
  u.add_history()->set_item_id("m2");
  EXPECT_NE(key.fingerprint, RecommendCacheKey(Request(), u, "v1").fingerprint);
  u = User();
  u.set_as_of_s(101);
  EXPECT_NE(key.fingerprint, RecommendCacheKey(Request(), u, "v1").fingerprint);
  // Lists are length-prefixed: an exclusion cannot pass for a category.
  r = Request();
  r.clear_context_categories();
  r.add_exclude_item_ids("Drama");
  EXPECT_NE(key.fingerprint, RecommendCacheKey(r, User(), "v1").fingerprint);
  // Another user with the same context: same fingerprint, different key.
  r = Request();
  r.set_user_id("u2");
  const ResponseCacheKey other = RecommendCacheKey(r, User(), "v1");
  EXPECT_EQ(other.fingerprint, key.fingerprint);
  EXPECT_FALSE(other == key);
}

}  // namespace
}  // namespace recsys::gateway
