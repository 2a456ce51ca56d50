#include "gateway/user_store.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bundle/model_bundle.h"
#include "gtest/gtest.h"

namespace recsys::gateway {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "user_store_test.XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EmbeddedUserStoreOptions Options(const std::string& dir) {
  EmbeddedUserStoreOptions o;
  o.state_dir = dir + "/state";  // created by Open
  return o;
}

UserEvent Event(const std::string& item, int64_t ts = 100) {
  return UserEvent{item, ts, 1.0f, "click"};
}

std::vector<std::string> Items(const std::vector<UserEvent>& events) {
  std::vector<std::string> out;
  for (const UserEvent& e : events) out.push_back(e.item_id);
  return out;
}

using Strings = std::vector<std::string>;

// Seeded history comes first, logged appends after it - also after a restart
// with a different seed (a new bundle), whose events are not in the log.
TEST(EmbeddedUserStoreTest, SeedThenReplayedLogOrdering) {
  TempDir tmp;
  auto seed = [](const Strings& items) {
    return [items](EmbeddedUserStore::SeedSink& sink) {
      std::vector<UserEvent> events;
      for (const std::string& i : items) events.push_back(UserEvent{i, 10, 1.0f, "train"});
      sink.Seed("alice", events);
      sink.Seed("bob", {UserEvent{"b0", 5, 1.0f, "train"}});
    };
  };
  {
    auto store = EmbeddedUserStore::Open(Options(tmp.path()), seed({"s1", "s2"}));
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->num_users(), 2);
    EXPECT_EQ(*(*store)->Append("alice", Event("a1")), 1u);
    EXPECT_EQ(*(*store)->Append("carol", Event("c1")), 2u);
    EXPECT_EQ(*(*store)->Append("alice", Event("a2")), 3u);
    EXPECT_EQ(Items((*store)->History("alice", 10)), (Strings{"s1", "s2", "a1", "a2"}));
    EXPECT_EQ((*store)->num_users(), 3);
    EXPECT_EQ((*store)->stats().seeded_events, 3u);
  }
  auto store = EmbeddedUserStore::Open(Options(tmp.path()), seed({"n1", "n2", "n3"}));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Items((*store)->History("alice", 10)), (Strings{"n1", "n2", "n3", "a1", "a2"}));
  EXPECT_EQ(Items((*store)->History("carol", 10)), (Strings{"c1"}));
  EXPECT_EQ(Items((*store)->History("bob", 10)), (Strings{"b0"}));
  const UserEvent e = (*store)->History("alice", 1).front();
  EXPECT_EQ(e.timestamp_s, 100);
  EXPECT_EQ(e.event, "click");
  EXPECT_EQ((*store)->stats().replayed_records, 3u);
  EXPECT_EQ(*(*store)->Append("alice", Event("a3")), 4u);
}

// Every field of an event comes back as stored - the event name too, seeded
// and logged, after a restart - and names beyond the store's table of
// distinct names are kept as "other" (only a foreign log could hold so many).
TEST(EmbeddedUserStoreTest, EventFieldsAndNamesRoundTrip) {
  TempDir tmp;
  const std::vector<UserEvent> appended = {UserEvent{"i1", 11, 0.5f, "click"},
                                           UserEvent{"i2", 12, -1.0f, "dislike"},
                                           UserEvent{"i3", 13, 2.0f, "purchase"},
                                           UserEvent{"i4", 14, 1.0f, "click"}};
  auto check = [&](const std::vector<UserEvent>& got) {
    ASSERT_EQ(got.size(), appended.size() + 1);
    EXPECT_EQ(got[0].item_id, "s");
    EXPECT_EQ(got[0].event, "train");
    for (size_t i = 0; i < appended.size(); ++i) {
      EXPECT_EQ(got[i + 1].item_id, appended[i].item_id);
      EXPECT_EQ(got[i + 1].timestamp_s, appended[i].timestamp_s);
      EXPECT_EQ(got[i + 1].weight, appended[i].weight);
      EXPECT_EQ(got[i + 1].event, appended[i].event);
    }
  };
  auto seed = [](EmbeddedUserStore::SeedSink& sink) {
    sink.Seed("u", {UserEvent{"s", 1, 1.0f, "train"}});
  };
  {
    auto store = EmbeddedUserStore::Open(Options(tmp.path()), seed);
    ASSERT_TRUE(store.ok()) << store.status();
    for (const UserEvent& e : appended) ASSERT_TRUE((*store)->Append("u", e).ok());
    check((*store)->History("u", 100));
  }
  auto store = EmbeddedUserStore::Open(Options(tmp.path()), seed);
  ASSERT_TRUE(store.ok()) << store.status();
  check((*store)->History("u", 100));

  // 5,000 distinct names: the first 4,095 distinct ones (with "train",
  // "click", "dislike" and "purchase" already in) keep their names.
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE((*store)->Append("v", UserEvent{"x", i, 1.0f, absl::StrCat("kind", i)}).ok());
  }
  const std::vector<UserEvent> many = (*store)->History("v", 5000);
  ASSERT_EQ(many.size(), 1000u);  // the per-user cap
  EXPECT_EQ(many.back().event, "other");
  auto fresh = EmbeddedUserStore::Open(Options(tmp.path() + "/b"));
  ASSERT_TRUE(fresh.ok());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE((*fresh)->Append(absl::StrCat("w", i), UserEvent{"x", i, 1.0f, absl::StrCat("k", i)}).ok());
  }
  EXPECT_EQ((*fresh)->History("w0", 1).front().event, "k0");
  EXPECT_EQ((*fresh)->History("w4094", 1).front().event, "k4094");
  EXPECT_EQ((*fresh)->History("w4095", 1).front().event, "other");
  EXPECT_EQ((*fresh)->History("w4999", 1).front().event, "other");
}

// History returns the most recent max_events, oldest first; unknown users
// have none.
TEST(EmbeddedUserStoreTest, HistoryReturnsMostRecentOldestFirst) {
  TempDir tmp;
  auto store = EmbeddedUserStore::Open(Options(tmp.path()));
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*store)->Append("u", Event(absl::StrCat(i))).ok());
  EXPECT_EQ(Items((*store)->History("u", 3)), (Strings{"2", "3", "4"}));
  EXPECT_EQ(Items((*store)->History("u", 100)).size(), 5u);
  EXPECT_TRUE((*store)->History("u", 0).empty());
  EXPECT_TRUE((*store)->History("nobody", 10).empty());
}

// Memory keeps each user's most recent max_events_per_user (seeded ones
// count); the log keeps everything, so a restart rebuilds the same window.
TEST(EmbeddedUserStoreTest, PerUserCap) {
  TempDir tmp;
  EmbeddedUserStoreOptions options = Options(tmp.path());
  options.max_events_per_user = 4;
  auto seed = [](EmbeddedUserStore::SeedSink& sink) {
    sink.Seed("u", {Event("s0"), Event("s1"), Event("s2"), Event("s3"), Event("s4")});
  };
  {
    auto store = EmbeddedUserStore::Open(options, seed);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(Items((*store)->History("u", 100)), (Strings{"s1", "s2", "s3", "s4"}));
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE((*store)->Append("u", Event(absl::StrCat("a", i))).ok());
    EXPECT_EQ(Items((*store)->History("u", 100)), (Strings{"s4", "a0", "a1", "a2"}));
  }
  auto store = EmbeddedUserStore::Open(options, seed);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(Items((*store)->History("u", 100)), (Strings{"s4", "a0", "a1", "a2"}));
}

// A bundle whose training histories are alice: t0 t1 t2 and bob: t3 (times 10, 11, ...).
std::shared_ptr<const ModelBundle> HistoryBundle() {
  auto bundle = std::make_shared<ModelBundle>();
  for (int i = 0; i < 4; ++i) bundle->catalogue.ids.GetOrAdd(absl::StrCat("t", i));
  UserHistories& h = bundle->histories;
  h.users.GetOrAdd("alice");
  h.users.GetOrAdd("bob");
  h.offsets = {0, 3, 4};
  h.items = {0, 1, 2, 3};
  h.times_s = {10, 11, 12, 13};
  return bundle;
}

// SeedFrom(bundle) after the log was replayed gives every user the history a
// seed given to Open would have: training events first ("train", weight 1),
// then the logged ones, within the per-user cap.
TEST(EmbeddedUserStoreTest, SeedFromAfterReplayEqualsSeedBeforeReplay) {
  TempDir tmp;
  EmbeddedUserStoreOptions options = Options(tmp.path());
  options.max_events_per_user = 4;
  {
    auto store = EmbeddedUserStore::Open(options);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Append("alice", Event("a0")).ok());
    ASSERT_TRUE((*store)->Append("carol", Event("c0")).ok());
    ASSERT_TRUE((*store)->Append("alice", Event("a1")).ok());
  }
  std::shared_ptr<const ModelBundle> bundle = HistoryBundle();
  std::map<std::string, std::vector<UserEvent>> before;
  {
    auto store = EmbeddedUserStore::Open(options, [&](EmbeddedUserStore::SeedSink& sink) {
      ForEachTrainingHistory(*bundle, [&](absl::string_view user, std::vector<UserEvent> events) {
        sink.Seed(user, std::move(events));
      });
    });
    ASSERT_TRUE(store.ok());
    for (const char* user : {"alice", "bob", "carol"}) before[user] = (*store)->History(user, 10);
  }
  auto store = EmbeddedUserStore::Open(options);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->num_users(), 2);
  (*store)->SeedFrom(*bundle);
  EXPECT_EQ((*store)->num_users(), 3);
  EXPECT_EQ((*store)->stats().seeded_events, 4u);
  EXPECT_EQ(Items((*store)->History("alice", 10)), (Strings{"t1", "t2", "a0", "a1"}));
  EXPECT_EQ(Items((*store)->History("bob", 10)), (Strings{"t3"}));
  EXPECT_EQ(Items((*store)->History("carol", 10)), (Strings{"c0"}));
  for (const char* user : {"alice", "bob", "carol"}) {
    const std::vector<UserEvent> after = (*store)->History(user, 10);
    ASSERT_EQ(after.size(), before[user].size()) << user;
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].item_id, before[user][i].item_id) << user << " " << i;
      EXPECT_EQ(after[i].timestamp_s, before[user][i].timestamp_s) << user << " " << i;
      EXPECT_EQ(after[i].weight, before[user][i].weight) << user << " " << i;
      EXPECT_EQ(after[i].event, before[user][i].event) << user << " " << i;
    }
  }
  const UserEvent first_bob = (*store)->History("bob", 1).front();
  EXPECT_EQ(first_bob.timestamp_s, 13);
  EXPECT_EQ(first_bob.event, "train");
  // Appends after the seed follow everything.
  ASSERT_TRUE((*store)->Append("bob", Event("b0")).ok());
  EXPECT_EQ(Items((*store)->History("bob", 10)), (Strings{"t3", "b0"}));
}

// Rejected events are not logged and consume no sequence number.
TEST(EmbeddedUserStoreTest, InvalidAppendsAreRefusedAndNotLogged) {
  TempDir tmp;
  auto store = EmbeddedUserStore::Open(Options(tmp.path()));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Append("", Event("i")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Append("u", Event("")).status().code(), absl::StatusCode::kInvalidArgument);
  UserEvent huge = Event("i");
  huge.event = std::string(1 << 20, 'x');
  EXPECT_EQ((*store)->Append("u", huge).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->stats().appends, 0u);
  EXPECT_EQ((*store)->num_users(), 0);
  EXPECT_EQ(*(*store)->Append("u", Event("i")), 1u);
  const UserStoreStats s = (*store)->stats();
  EXPECT_EQ(s.appends, 1u);
  EXPECT_EQ(s.fsyncs, 1u);
  EXPECT_EQ(s.group_commits, 1u);
  EXPECT_GT(s.bytes, 0u);
  EXPECT_EQ(s.last_seq, 1u);
}

// AppendOnce: a retry with a remembered key returns the first sequence and
// stores nothing; keys are per user; a failed call is not remembered;
// concurrent calls with one key store once; past idempotency_keys the oldest
// key is forgotten; a restart forgets every key (memory only).
TEST(EmbeddedUserStoreTest, IdempotencyKeysInMemory) {
  TempDir tmp;
  EmbeddedUserStoreOptions o = Options(tmp.path());
  o.wal.fsync = false;
  o.idempotency_keys = 3;
  {
    auto store = EmbeddedUserStore::Open(o);
    ASSERT_TRUE(store.ok());
    EmbeddedUserStore& s = **store;
    const uint64_t first = *s.AppendOnce("u", Event("a"), "k1");
    EXPECT_EQ(*s.AppendOnce("u", Event("a"), "k1"), first);
    EXPECT_EQ(*s.AppendOnce("u", Event("other"), "k1"), first);
    EXPECT_NE(*s.AppendOnce("v", Event("a"), "k1"), first);
    EXPECT_EQ(Items(s.History("u", 10)), (Strings{"a"}));
    EXPECT_EQ(s.stats().idempotent_replays, 2u);
    EXPECT_FALSE(s.AppendOnce("u", Event(""), "bad").ok());
    EXPECT_TRUE(s.AppendOnce("u", Event("b"), "bad").ok());  // the failure was not remembered

    std::vector<std::thread> threads;
    std::vector<uint64_t> seqs(8);
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] { seqs[t] = *s.AppendOnce("w", Event("c"), "same"); });
    }
    for (std::thread& t : threads) t.join();
    for (uint64_t seq : seqs) EXPECT_EQ(seq, seqs[0]);
    EXPECT_EQ(Items(s.History("w", 10)), (Strings{"c"}));

    // k1 (u), k1 (v), bad, same: four keys; the oldest, (u, k1), is forgotten.
    EXPECT_NE(*s.AppendOnce("u", Event("a"), "k1"), first);
    EXPECT_EQ(Items(s.History("u", 10)), (Strings{"a", "b", "a"}));
  }
  auto reopened = EmbeddedUserStore::Open(o);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->AppendOnce("w", Event("c"), "same").ok());
  EXPECT_EQ(Items((*reopened)->History("w", 10)), (Strings{"c", "c"}));
}

// A full store refuses growth with ResourceExhausted and logs nothing: a new
// user past max_users, an event past max_events (a user already at the
// per-user cap may still append: the oldest event goes). Nothing held is
// evicted; erasing a user makes room.
TEST(EmbeddedUserStoreTest, BoundsRefuseNewUsersAndGrowth) {
  TempDir tmp;
  EmbeddedUserStoreOptions o = Options(tmp.path());
  o.max_users = 2;
  o.max_events = 5;
  o.max_events_per_user = 3;
  auto store = EmbeddedUserStore::Open(o);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Append("a", Event("a1")).ok());
  ASSERT_TRUE((*store)->Append("b", Event("b1")).ok());
  const auto refused = (*store)->Append("c", Event("c1"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("2 users"), std::string::npos) << refused.status();
  EXPECT_TRUE((*store)->History("c", 10).empty());
  ASSERT_TRUE((*store)->Append("a", Event("a2")).ok());
  ASSERT_TRUE((*store)->Append("a", Event("a3")).ok());  // a at its cap: 4 events held
  ASSERT_TRUE((*store)->Append("b", Event("b2")).ok());  // 5 events held
  EXPECT_EQ((*store)->Append("b", Event("b3")).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE((*store)->Append("a", Event("a4")).ok());  // replaces a1: no growth
  EXPECT_EQ(Items((*store)->History("a", 10)), (Strings{"a2", "a3", "a4"}));
  UserStoreStats st = (*store)->stats();
  EXPECT_EQ(st.users, 2);
  EXPECT_EQ(st.events, 5);
  EXPECT_EQ(st.refused_new_users, 1u);
  EXPECT_EQ(st.refused_events, 1u);
  EXPECT_EQ(st.last_seq, 6u);  // refused appends are not logged
  // Erasing b frees a user and two events.
  ASSERT_TRUE((*store)->EraseUser("b", nullptr).ok());
  EXPECT_EQ((*store)->stats().events, 3);
  EXPECT_TRUE((*store)->Append("c", Event("c1")).ok());
}

// The bounds never drop what was acknowledged: a restart with lower bounds
// replays every logged event (and refuses only new growth), so the store
// after a restart holds what it held before.
TEST(EmbeddedUserStoreTest, LoweredBoundsKeepReplayedEvents) {
  TempDir tmp;
  {
    auto store = EmbeddedUserStore::Open(Options(tmp.path()));
    ASSERT_TRUE(store.ok());
    for (int u = 0; u < 5; ++u) {
      ASSERT_TRUE((*store)->Append(absl::StrCat("u", u), Event("i")).ok());
    }
  }
  EmbeddedUserStoreOptions o = Options(tmp.path());
  o.max_users = 3;
  auto store = EmbeddedUserStore::Open(o);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->num_users(), 5);
  EXPECT_EQ((*store)->stats().events, 5);
  for (int u = 0; u < 5; ++u) EXPECT_EQ((*store)->History(absl::StrCat("u", u), 10).size(), 1u);
  EXPECT_TRUE((*store)->Append("u0", Event("j")).ok());  // known users still append
  EXPECT_EQ((*store)->Append("new", Event("j")).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// Writers append to shared users while readers read them: every reader
// snapshot shows each writer's events in the order that writer appended
// them, and nothing is lost. (Run under -fsanitize=thread as well.)
TEST(EmbeddedUserStoreTest, ConcurrentReadersAndWriters) {
  TempDir tmp;
  EmbeddedUserStoreOptions options = Options(tmp.path());
  options.wal.fsync = false;  // this test is about locking, not disks
  options.num_shards = 2;
  auto store = EmbeddedUserStore::Open(options);
  ASSERT_TRUE(store.ok());
  constexpr int kWriters = 6, kPerWriter = 300, kReaders = 4, kUsers = 3;
  std::atomic<int> writers_left{kWriters};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string user = absl::StrCat("user", i % kUsers);
        ASSERT_TRUE((*store)->Append(user, Event(absl::StrCat(w, ":", i))).ok());
      }
      writers_left.fetch_sub(1);
    });
  }
  auto check_order = [](const std::vector<UserEvent>& events) {
    std::map<int, int> last;  // writer -> last i seen
    for (const UserEvent& e : events) {
      const size_t colon = e.item_id.find(':');
      const int w = std::stoi(e.item_id.substr(0, colon));
      const int i = std::stoi(e.item_id.substr(colon + 1));
      auto [it, fresh] = last.try_emplace(w, i);
      if (!fresh) {
        EXPECT_LT(it->second, i) << "writer " << w;
        it->second = i;
      }
    }
  };
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      do {
        check_order((*store)->History(absl::StrCat("user", r % kUsers), 10000));
        (void)(*store)->num_users();
        (void)(*store)->stats();
        reads.fetch_add(1);
      } while (writers_left.load() > 0);
    });
  }
  for (auto& t : threads) t.join();
  size_t total = 0;
  for (int u = 0; u < kUsers; ++u) {
    const auto events = (*store)->History(absl::StrCat("user", u), 10000);
    check_order(events);
    total += events.size();
  }
  EXPECT_EQ(total, size_t{kWriters * kPerWriter});
  EXPECT_EQ((*store)->num_users(), kUsers);
  EXPECT_GT(reads.load(), 0);
}

// What the child reports for each acknowledged append.
struct Ack {
  uint64_t seq;
  int32_t thread;
  int32_t index;
};
static_assert(sizeof(Ack) <= PIPE_BUF, "pipe writes of an Ack are atomic");

// Child process: appends from 4 threads and reports each acknowledged seq.
[[noreturn]] void RunChild(const std::string& state_dir, int round, int fd, int per_thread) {
  EmbeddedUserStoreOptions options;
  options.state_dir = state_dir;
  auto store = EmbeddedUserStore::Open(options);
  if (!store.ok()) ::_exit(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto seq = (*store)->Append(absl::StrCat("user", t),
                                    Event(absl::StrCat("r", round, "-t", t, "-i", i), i));
        if (!seq.ok()) ::_exit(4);
        const Ack ack{*seq, t, i};
        if (::write(fd, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) ::_exit(5);
      }
    });
  }
  for (auto& t : threads) t.join();
  ::_exit(0);  // skip destructors: as abrupt as the SIGKILL in other rounds
}

// The acceptance bar: a child appends 500 events and is SIGKILLed at a
// random point; after a restart every acknowledged event is in the store
// (repeated over several rounds on the same directory).
TEST(EmbeddedUserStoreCrashTest, SigkillNeverLosesAcknowledgedEvents) {
  TempDir tmp;
  const std::string state = tmp.path() + "/state";
  const unsigned seed = std::random_device{}();
  std::cout << "[ crash test ] seed " << seed << "\n";
  std::mt19937 rng(seed);
  constexpr int kRounds = 6, kPerThread = 125;  // 500 appends per round
  std::map<uint64_t, std::string> acked;        // seq -> item id
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const int kill_after = std::uniform_int_distribution<int>(1, 4 * kPerThread - 1)(rng);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(state, round, fds[1], kPerThread);
    }
    ::close(fds[1]);
    int seen = 0;
    bool killed = false;
    Ack ack;
    for (;;) {
      const ssize_t n = ::read(fds[0], &ack, sizeof ack);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) break;  // the child is gone
      ASSERT_EQ(n, static_cast<ssize_t>(sizeof ack));
      const bool fresh =
          acked.emplace(ack.seq, absl::StrCat("r", round, "-t", ack.thread, "-i", ack.index))
              .second;
      EXPECT_TRUE(fresh) << "seq " << ack.seq << " acknowledged twice";
      if (++seen == kill_after && !killed) {
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        killed = true;
      }
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child status " << status;
    std::cout << "[ crash test ] round " << round << ": killed after " << kill_after << " acks, "
              << seen << " acknowledged before death\n";

    // Every acknowledged event (this round and all before) survives.
    auto store = EmbeddedUserStore::Open(Options(tmp.path()));
    ASSERT_TRUE(store.ok()) << store.status();
    std::map<std::string, int> present;
    for (int t = 0; t < 4; ++t) {
      for (const UserEvent& e : (*store)->History(absl::StrCat("user", t), 100000)) {
        ++present[e.item_id];
      }
    }
    for (const auto& [seq, item] : acked) {
      EXPECT_EQ(present.count(item), 1u) << "acknowledged seq " << seq << " (" << item << ") lost";
    }
    EXPECT_GE((*store)->stats().last_seq, acked.rbegin()->first);
  }
  auto store = EmbeddedUserStore::Open(Options(tmp.path()));
  ASSERT_TRUE(store.ok());
  EXPECT_GE((*store)->stats().replayed_records, acked.size());
}

}  // namespace
}  // namespace recsys::gateway
