// RedisUserStore against a real redis-server (tests/testing/redis_server.h):
// seed + Redis histories, the per-user cap, erasure, idempotent retries, two
// stores ("two gateways") on one Redis, Redis killed and restarted (no
// acknowledged event lost, reads degraded meanwhile), a paused Redis (timeouts),
// WAIT for replicas, and a kill -9 cycle under a stream of retried appends.
// Skipped when /usr/bin/redis-server is absent.
#include "gateway/redis_user_store.h"

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "gtest/gtest.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

using recsys::testing::RedisServer;
using Strings = std::vector<std::string>;

#define REQUIRE_REDIS_SERVER()                                                           \
  if (!RedisServer::Available()) {                                                       \
    GTEST_SKIP() << RedisServer::kBinary << " is absent (apt-get install redis-server)"; \
  }

// Quiets expected log lines (Redis down).
class ScopedLogSeverity {
 public:
  explicit ScopedLogSeverity(LogSeverity s) : old_(MinLogSeverity()) { SetMinLogSeverity(s); }
  ~ScopedLogSeverity() { SetMinLogSeverity(old_); }

 private:
  LogSeverity old_;
};

RedisUserStoreOptions Options(const RedisServer& redis) {
  RedisUserStoreOptions o;
  auto endpoint = ParseRedisUrl(redis.url());
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  o.pool.endpoint = *endpoint;
  o.pool.timeout = absl::Milliseconds(200);
  o.pool.size = 4;
  o.pool.reconnect_backoff = absl::Milliseconds(10);
  return o;
}

std::unique_ptr<RedisUserStore> OpenStore(const RedisUserStoreOptions& o) {
  auto store = RedisUserStore::Open(o);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

UserEvent Event(const std::string& item, int64_t ts = 100, const std::string& event = "click") {
  return UserEvent{item, ts, 1.0f, event};
}

Strings Items(const std::vector<UserEvent>& events) {
  Strings out;
  for (const UserEvent& e : events) out.push_back(e.item_id);
  return out;
}

std::vector<UserEvent> Seed(int n, const std::string& prefix = "s") {
  std::vector<UserEvent> events;
  for (int i = 0; i < n; ++i)
    events.push_back(UserEvent{absl::StrCat(prefix, i), i, 1.0f, "train"});
  return events;
}

class RedisUserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_REDIS_SERVER();
    redis_ = std::make_unique<RedisServer>(recsys::testing::FreshTempDir("redis_user_store"));
    ASSERT_TRUE(redis_->Start()) << "redis-server did not start; see " << redis_->dir()
                                 << "/redis.log";
  }

  std::unique_ptr<RedisServer> redis_;
};

// URLs: host, port and database are parsed; anything else is refused with
// the reason.
TEST(RedisUrlTest, ParsesAndRefuses) {
  auto e = ParseRedisUrl("redis://cache.internal:6380/3");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "cache.internal");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 3);
  EXPECT_EQ(e->ToString(), "cache.internal:6380/3");
  e = ParseRedisUrl("redis://10.0.0.5");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);
  e = ParseRedisUrl("redis://[::1]:7000/");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->ToString(), "[::1]:7000/0");
  for (const auto& [url, why] : std::vector<std::pair<std::string, std::string>>{
           {"embedded", "the scheme must be redis://"},
           {"http://x:1/0", "the scheme must be redis://"},
           {"rediss://x:1/0", "TLS (rediss://) is not supported"},
           {"redis://", "missing or bad host"},
           {"redis://:6379/0", "missing or bad host"},
           {"redis://user:secret@x:6379/0", "credentials in the URL are not accepted"},
           {"redis://x:0/0", "port '0' is not in 1..65535"},
           {"redis://x:70000/0", "port '70000' is not in 1..65535"},
           {"redis://x:/0", "empty port"},
           {"redis://x:12a/0", "port '12a' is not in 1..65535"},
           {"redis://x:1/db1", "database 'db1' is not a number"},
           {"redis://x:1/-1", "database '-1' is not a number"},
           {"redis://x:1/0?timeout=1", "query and fragment are not supported"},
           {"redis://[::1:1/0", "unclosed '['"},
           {"redis://ho st:1/0", "missing or bad host"},
       }) {
    auto bad = ParseRedisUrl(url);
    ASSERT_FALSE(bad.ok()) << url;
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_NE(bad.status().message().find(why), std::string::npos)
        << url << ": " << bad.status().message();
  }
}

// Redis error replies map to the status a caller can act on.
TEST(RedisUrlTest, ErrorRepliesMapToStatusCodes) {
  EXPECT_EQ(RedisErrorStatus("OOM command not allowed when used memory > 'maxmemory'.").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RedisErrorStatus("LOADING Redis is loading the dataset in memory").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(RedisErrorStatus("READONLY You can't write against a read only replica.").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(RedisErrorStatus("WRONGTYPE Operation against a key holding the wrong kind").code(),
            absl::StatusCode::kInternal);
}

// History = the seed, then what Redis holds, most recent max_events; each
// event's fields round-trip; the per-user cap drops the oldest (seed first).
TEST_F(RedisUserStoreTest, SeedThenAppendsAndThePerUserCap) {
  RedisUserStoreOptions o = Options(*redis_);
  o.max_events_per_user = 5;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  store->Seed("u1", Seed(3));
  EXPECT_EQ(store->num_users(), 1);
  EXPECT_EQ(Items(store->History("u1", 10)), (Strings{"s0", "s1", "s2"}));
  EXPECT_TRUE(store->History("nobody", 10).empty());

  auto s1 = store->Append("u1", UserEvent{"m1", 1700000001, 2.5f, "like"});
  ASSERT_TRUE(s1.ok()) << s1.status();
  auto s2 = store->Append("u1", UserEvent{"m2", 1700000002, -1.0f, "dislike"});
  ASSERT_TRUE(s2.ok()) << s2.status();
  EXPECT_GT(*s2, *s1);
  HistoryResult h = store->ReadHistory("u1", 10);
  EXPECT_FALSE(h.degraded);
  EXPECT_EQ(Items(h.events), (Strings{"s0", "s1", "s2", "m1", "m2"}));
  EXPECT_EQ(h.events[3].timestamp_s, 1700000001);
  EXPECT_EQ(h.events[3].weight, 2.5f);
  EXPECT_EQ(h.events[3].event, "like");
  EXPECT_EQ(h.events[4].weight, -1.0f);
  EXPECT_EQ(h.events[4].event, "dislike");
  EXPECT_EQ(h.events[0].event, "train");
  EXPECT_EQ(Items(store->History("u1", 2)), (Strings{"m1", "m2"}));
  EXPECT_EQ(Items(store->History("u1", 4)), (Strings{"s1", "s2", "m1", "m2"}));
  EXPECT_TRUE(store->History("u1", 0).empty());

  // Past the cap: seeded events leave first, then Redis' oldest (LTRIM).
  for (int i = 3; i <= 7; ++i) ASSERT_TRUE(store->Append("u1", Event(absl::StrCat("m", i))).ok());
  EXPECT_EQ(Items(store->History("u1", 100)), (Strings{"m3", "m4", "m5", "m6", "m7"}));

  // Ids with any bytes stay apart (escaped keys).
  ASSERT_TRUE(store->Append("a}:events", Event("x1")).ok());
  ASSERT_TRUE(store->Append("a", Event("x2")).ok());
  ASSERT_TRUE(store->Append(std::string("a\0b", 3), Event("x3")).ok());
  EXPECT_EQ(Items(store->History("a}:events", 10)), (Strings{"x1"}));
  EXPECT_EQ(Items(store->History("a", 10)), (Strings{"x2"}));
  EXPECT_EQ(Items(store->History(std::string("a\0b", 3), 10)), (Strings{"x3"}));
  EXPECT_EQ(store->UserKey("a}:events", "events"), "recsys:{a%7D%3Aevents}:events");

  EXPECT_EQ(store->Append("", Event("m")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Append("u1", Event("")).status().code(), absl::StatusCode::kInvalidArgument);
  const UserStoreStats stats = store->stats();
  EXPECT_EQ(stats.appends, 10u);
  EXPECT_EQ(stats.pool_size, 4);
  EXPECT_GE(stats.pool_connected, 1);
  EXPECT_EQ(stats.store_errors, 0u);
}

// A retried AppendOnce with the same key returns the first sequence and
// stores nothing; keys are per user; concurrent retries store once.
TEST_F(RedisUserStoreTest, IdempotentRetriesStoreOnce) {
  auto store = OpenStore(Options(*redis_));
  ASSERT_NE(store, nullptr);
  auto first = store->AppendOnce("u1", Event("m1"), "req-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = store->AppendOnce("u1", Event("m1"), "req-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  // The key names the call: a different event under it is not stored either.
  auto other = store->AppendOnce("u1", Event("m9"), "req-1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, *first);
  EXPECT_EQ(Items(store->History("u1", 10)), (Strings{"m1"}));
  auto u2 = store->AppendOnce("u2", Event("m1"), "req-1");
  ASSERT_TRUE(u2.ok());
  EXPECT_NE(*u2, *first);
  EXPECT_EQ(store->stats().idempotent_replays, 2u);

  std::vector<std::thread> threads;
  std::vector<uint64_t> seqs(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto s = store->AppendOnce("u3", Event("m3"), "same-key");
      seqs[t] = s.ok() ? *s : 0;
    });
  }
  for (std::thread& t : threads) t.join();
  for (uint64_t s : seqs) EXPECT_EQ(s, seqs[0]);
  EXPECT_NE(seqs[0], 0u);
  EXPECT_EQ(Items(store->History("u3", 10)), (Strings{"m3"}));
}

// Erasure hides the seed and drops Redis' events, here and on a store opened
// later (another replica, a restart); appends afterwards start a new history.
TEST_F(RedisUserStoreTest, ErasureHidesTheSeedEverywhere) {
  auto store = OpenStore(Options(*redis_));
  ASSERT_NE(store, nullptr);
  store->Seed("u1", Seed(3));
  store->Seed("u2", Seed(2));
  ASSERT_TRUE(store->Append("u1", Event("m1")).ok());
  ASSERT_TRUE(store->Append("u1", Event("m2")).ok());
  int64_t erased = -1;
  auto seq = store->EraseUser("u1", &erased);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(erased, 5);
  EXPECT_TRUE(store->History("u1", 10).empty());
  EXPECT_EQ(store->num_users(), 1);
  store->Seed("u1", Seed(3));  // a later seed does not bring it back
  EXPECT_TRUE(store->History("u1", 10).empty());
  auto after = store->Append("u1", Event("m3"));
  ASSERT_TRUE(after.ok());
  EXPECT_GT(*after, *seq);
  EXPECT_EQ(Items(store->History("u1", 10)), (Strings{"m3"}));

  // A store opened afterwards knows the erasure before it is seeded.
  auto restarted = OpenStore(Options(*redis_));
  ASSERT_NE(restarted, nullptr);
  restarted->Seed("u1", Seed(3));
  restarted->Seed("u2", Seed(2));
  EXPECT_EQ(restarted->num_users(), 1);
  EXPECT_EQ(Items(restarted->History("u1", 10)), (Strings{"m3"}));
  EXPECT_EQ(Items(restarted->History("u2", 10)), (Strings{"s0", "s1"}));
  EXPECT_EQ(store->EraseUser("", nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

// Two stores on one Redis (two gateways): each sees the other's appends at
// once; an erasure through one hides the seed on the other, even in the
// other's degraded answers once it has read anything after the erasure.
TEST_F(RedisUserStoreTest, TwoStoresShareUserState) {
  auto a = OpenStore(Options(*redis_));
  auto b = OpenStore(Options(*redis_));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (RedisUserStore* s : {a.get(), b.get()}) {
    s->Seed("u1", Seed(2));
    s->Seed("u2", Seed(2));
  }
  auto sa = a->Append("u1", Event("from-a"));
  auto sb = b->Append("u1", Event("from-b"));
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_NE(*sa, *sb);
  EXPECT_EQ(Items(a->History("u1", 10)), (Strings{"s0", "s1", "from-a", "from-b"}));
  EXPECT_EQ(Items(b->History("u1", 10)), (Strings{"s0", "s1", "from-a", "from-b"}));
  // Idempotency keys are shared too.
  auto ka = a->AppendOnce("u1", Event("once"), "k");
  auto kb = b->AppendOnce("u1", Event("once"), "k");
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_EQ(*ka, *kb);

  ASSERT_TRUE(b->EraseUser("u2", nullptr).ok());
  EXPECT_TRUE(a->History("u2", 10).empty());
  ASSERT_TRUE(b->EraseUser("u1", nullptr).ok());
  // a reads another user: it learns of u1's erasure from the erasures list.
  EXPECT_TRUE(a->History("u3", 10).empty());
  redis_->Kill();
  ScopedLogSeverity quiet(LogSeverity::kError);
  HistoryResult h = a->ReadHistory("u1", 10);
  EXPECT_TRUE(h.degraded);
  EXPECT_TRUE(h.events.empty()) << "the erased user's seed came back";
}

// Redis killed: appends and erasures fail UNAVAILABLE (never a false ack),
// reads answer the seed, degraded with the reason. Restarted: everything
// acknowledged is there (appendfsync always) and calls work again.
TEST_F(RedisUserStoreTest, RedisKilledThenRestarted) {
  auto store = OpenStore(Options(*redis_));
  ASSERT_NE(store, nullptr);
  store->Seed("u1", Seed(2));
  std::vector<std::string> acked;
  for (int i = 0; i < 50; ++i) {
    const std::string item = absl::StrCat("m", i);
    ASSERT_TRUE(store->AppendOnce("u1", Event(item), absl::StrCat("k", i)).ok());
    acked.push_back(item);
  }
  redis_->Kill();
  {
    ScopedLogSeverity quiet(LogSeverity::kError);
    auto failed = store->Append("u1", Event("lost"));
    EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
    EXPECT_NE(failed.status().message().find(redis_->url().substr(8)), std::string::npos)
        << failed.status();
    EXPECT_EQ(store->EraseUser("u1", nullptr).status().code(), absl::StatusCode::kUnavailable);
    HistoryResult h = store->ReadHistory("u1", 10);
    EXPECT_TRUE(h.degraded);
    EXPECT_EQ(Items(h.events), (Strings{"s0", "s1"}));
    EXPECT_FALSE(h.note.empty());
    // Within the reconnect backoff calls fail at once, without a connect.
    const absl::Time t0 = absl::Now();
    EXPECT_FALSE(store->Append("u1", Event("lost")).ok());
    EXPECT_LT(absl::Now() - t0, absl::Milliseconds(150));
  }
  const UserStoreStats down = store->stats();
  EXPECT_GE(down.store_errors, 3u);
  EXPECT_GE(down.degraded_reads, 1u);

  ASSERT_TRUE(redis_->Start());
  absl::StatusOr<uint64_t> seq;
  for (int attempt = 0; attempt < 100; ++attempt) {    // past the reconnect backoff
    seq = store->AppendOnce("u1", Event("m0"), "k0");  // a retry of an acknowledged call
    if (seq.ok()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(seq.ok()) << seq.status();
  HistoryResult h = store->ReadHistory("u1", 100);
  EXPECT_FALSE(h.degraded);
  Strings expected = {"s0", "s1"};
  expected.insert(expected.end(), acked.begin(), acked.end());
  EXPECT_EQ(Items(h.events), expected);
  EXPECT_GE(store->stats().pool_reconnects, 1u);
  ASSERT_TRUE(store->Append("u1", Event("after")).ok());
}

// A Redis restart between two calls: the pooled connection is dead. A read,
// or a write with an idempotency key, is sent again on a new connection; a
// write without a key is not (it might have been applied) and fails once.
TEST_F(RedisUserStoreTest, RestartBetweenCallsResendsOnlyWhatIsSafe) {
  RedisUserStoreOptions o = Options(*redis_);
  o.pool.size = 1;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append("u1", Event("m1")).ok());
  redis_->Kill();
  ASSERT_TRUE(redis_->Start());
  HistoryResult h = store->ReadHistory("u1", 10);
  EXPECT_FALSE(h.degraded) << h.note;
  EXPECT_EQ(Items(h.events), (Strings{"m1"}));
  redis_->Kill();
  ASSERT_TRUE(redis_->Start());
  EXPECT_TRUE(store->AppendOnce("u1", Event("m2"), "k2").ok());
  redis_->Kill();
  ASSERT_TRUE(redis_->Start());
  ScopedLogSeverity quiet(LogSeverity::kError);
  EXPECT_EQ(store->Append("u1", Event("m3")).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store->Append("u1", Event("m3")).ok());
  EXPECT_EQ(Items(store->History("u1", 10)), (Strings{"m1", "m2", "m3"}));
  EXPECT_EQ(store->stats().pool_reconnects, 3u);
}

// A Redis that accepts connections but does not answer (SIGSTOP): calls
// fail within about the timeout instead of hanging.
TEST_F(RedisUserStoreTest, UnresponsiveRedisTimesOut) {
  RedisUserStoreOptions o = Options(*redis_);
  o.pool.timeout = absl::Milliseconds(100);
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append("u1", Event("m1")).ok());
  redis_->Pause();
  ScopedLogSeverity quiet(LogSeverity::kError);
  const absl::Time t0 = absl::Now();
  auto s = store->Append("u1", Event("m2"));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("timeout"), std::string::npos) << s.status();
  EXPECT_LT(took, absl::Seconds(1));
  EXPECT_TRUE(store->ReadHistory("u1", 10).degraded);
  redis_->Resume();
  // The write sent before the pause was applied when Redis resumed; the
  // caller saw UNAVAILABLE, so it was never acknowledged (a retry with a key
  // would have found it).
  absl::StatusOr<uint64_t> after;
  for (int attempt = 0; attempt < 100 && !after.ok(); ++attempt) {
    after = store->Append("u1", Event("m3"));
    if (!after.ok()) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(after.ok()) << after.status();
}

// WAIT: with wait_replicas = 1 and no replica a write is refused (though on
// the primary); with a replica attached it is acknowledged.
TEST_F(RedisUserStoreTest, WaitForReplicas) {
  RedisUserStoreOptions o = Options(*redis_);
  o.wait_replicas = 1;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  auto refused = store->AppendOnce("u1", Event("m1"), "k1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("only 0 of 1 replicas"), std::string::npos)
      << refused.status();
  RedisServer replica(recsys::testing::FreshTempDir("redis_replica"),
                      {"--replicaof", "127.0.0.1", std::to_string(redis_->port())});
  ASSERT_TRUE(replica.Start());
  absl::StatusOr<uint64_t> acked;
  for (int attempt = 0; attempt < 500 && !acked.ok(); ++attempt) {  // until the replica synced
    acked = store->AppendOnce("u1", Event("m1"), "k1");
    if (!acked.ok()) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(Items(store->History("u1", 10)), (Strings{"m1"}));  // stored once
}

// Open fails clearly when Redis is unreachable or the password is wrong.
TEST_F(RedisUserStoreTest, OpenFailsWithTheReason) {
  RedisUserStoreOptions o = Options(*redis_);
  o.pool.password = "not-the-password";
  auto bad_password = RedisUserStore::Open(o);
  EXPECT_EQ(bad_password.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(bad_password.status().message().find("AUTH"), std::string::npos)
      << bad_password.status();
  o = Options(*redis_);
  redis_->Kill();
  auto down = RedisUserStore::Open(o);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(down.status().message().find("connect"), std::string::npos) << down.status();
}

// kill -9 cycles under a stream of appends: writers retry every call that
// failed with the same idempotency key until it is acknowledged, while Redis
// is SIGKILLed and restarted at random moments. Afterwards every history
// holds exactly the acknowledged events: none lost, none twice.
// (bench/scripts/redis_kill_cycles.sh runs 200 cycles through real gateways.)
TEST_F(RedisUserStoreTest, KillCyclesLoseNothingAndDuplicateNothing) {
  constexpr int kCycles = 20;
  constexpr int kWriters = 4;
  constexpr int kUsersPerWriter = 8;
  RedisUserStoreOptions o = Options(*redis_);
  o.max_events_per_user = 100000;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ScopedLogSeverity quiet(LogSeverity::kError);
  std::atomic<bool> stop{false};
  struct Acked {
    std::string user;
    int64_t ts;
    uint64_t seq;
  };
  std::vector<std::vector<Acked>> acked(kWriters);
  std::atomic<int> failed_calls{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int64_t i = 0; !stop.load(); ++i) {
        const std::string user = absl::StrCat("w", w, "-u", i % kUsersPerWriter);
        const int64_t ts = 1'000'000 * (w + 1) + i;  // unique per event
        const std::string key = absl::StrCat("w", w, "-", i);
        for (;;) {  // the call is retried until acknowledged, with its key
          auto seq =
              store->AppendOnce(user, UserEvent{absl::StrCat("m", i % 60), ts, 1.0f, "click"}, key);
          if (seq.ok()) {
            acked[w].push_back({user, ts, *seq});
            break;
          }
          failed_calls.fetch_add(1);
          absl::SleepFor(absl::Milliseconds(2));
        }
      }
    });
  }
  std::mt19937 rng(7);
  for (int c = 0; c < kCycles; ++c) {
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(20, 80)(rng)));
    redis_->Kill();
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 20)(rng)));
    ASSERT_TRUE(redis_->Start()) << "cycle " << c;
  }
  absl::SleepFor(absl::Milliseconds(50));
  stop = true;
  for (std::thread& t : writers) t.join();

  std::map<std::string, std::multiset<int64_t>> expected;
  std::set<uint64_t> seqs;
  size_t total = 0;
  for (const auto& list : acked) {
    for (const Acked& a : list) {
      expected[a.user].insert(a.ts);
      EXPECT_TRUE(seqs.insert(a.seq).second) << "sequence " << a.seq << " acknowledged twice";
      ++total;
    }
  }
  size_t lost = 0, duplicated = 0, extra = 0;
  for (const auto& [user, want] : expected) {
    HistoryResult h = store->ReadHistory(user, 100000);
    ASSERT_FALSE(h.degraded) << h.note;
    std::multiset<int64_t> got;
    for (const UserEvent& e : h.events) got.insert(e.timestamp_s);
    for (int64_t ts : want) {
      if (got.count(ts) == 0) ++lost;
      if (got.count(ts) > 1) ++duplicated;
    }
    for (int64_t ts : got) extra += want.count(ts) == 0 ? 1 : 0;
  }
  std::cout << "kill cycles: " << kCycles << ", acknowledged " << total << ", failed calls "
            << failed_calls.load() << " (retried), lost " << lost << ", duplicated " << duplicated
            << ", unacknowledged extra " << extra << "\n";
  EXPECT_GT(total, 100u);
  EXPECT_GT(failed_calls.load(), 0) << "no call ever met a dead Redis: the test tested nothing";
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(extra, 0u);
}

}  // namespace
}  // namespace recsys::gateway
