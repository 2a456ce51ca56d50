// Erasing a user: the WAL's kEraseUser record (bytes, replay, compaction) and
// EmbeddedUserStore::EraseUser (memory, seeds, restarts, later appends).
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gateway/user_store.h"
#include "gateway/wal.h"
#include "gtest/gtest.h"

namespace recsys::gateway {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "user_erase_test.XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

WalEntry Erasure(const std::string& user, int64_t ts = 1600000000) {
  WalEntry e;
  e.user_id = user;
  e.timestamp_s = ts;
  e.weight = 0.0f;
  e.kind = WalRecordKind::kEraseUser;
  return e;
}

using Strings = std::vector<std::string>;

Strings Items(const std::vector<UserEvent>& events) {
  Strings out;
  for (const UserEvent& e : events) out.push_back(e.item_id);
  return out;
}

// The erase record's bytes are fixed (reference computed independently):
// the event layout plus a trailing u32 kind = 1.
TEST(WalEraseTest, EraseRecordBytesAreFixed) {
  EXPECT_EQ(absl::BytesToHexString(EncodeWalRecord(1, Erasure("user-1"))),
            "2a0000005e15e298010000000000000006000000757365722d310000000000105e5f0000000000000000"
            "0000000001000000");
}

// Events and erasures replay with their kinds; compaction keeps an erasure
// (seeds come back on every start) and drops what it erased.
TEST(WalEraseTest, ReplayAndCompactionKeepTheErasure) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 1;  // one record per segment
  options.compact_after_segments = 0;
  options.compact_keep_per_user = 2;
  std::vector<std::pair<uint64_t, WalEntry>> got;
  auto collect = [&got](uint64_t seq, const WalEntry& e) {
    got.emplace_back(seq, e);
    return absl::OkStatus();
  };
  {
    auto wal = Wal::Open(tmp.path(), options, collect);
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_TRUE((*wal)->Append(WalEntry{"a", "i1", 1, 1.0f, "click"}).ok());
    ASSERT_TRUE((*wal)->Append(WalEntry{"b", "i2", 2, 1.0f, "click"}).ok());
    ASSERT_TRUE((*wal)->Append(Erasure("a")).ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*wal)->Append(WalEntry{"a", absl::StrCat("n", i), 3, 1.0f, "click"}).ok());
    }
    ASSERT_TRUE((*wal)->Append(WalEntry{"b", "i3", 4, 1.0f, "click"}).ok());  // stays open
  }
  ASSERT_TRUE(Wal::Open(tmp.path(), options, collect).ok());
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[2].second.kind, WalRecordKind::kEraseUser);
  EXPECT_EQ(got[2].second.user_id, "a");
  EXPECT_EQ(got[3].second.kind, WalRecordKind::kEvent);

  got.clear();
  {
    auto wal = Wal::Open(tmp.path(), options, collect);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Compact().ok());
  }
  got.clear();
  ASSERT_TRUE(Wal::Open(tmp.path(), options, collect).ok());
  std::vector<uint64_t> seqs;
  for (const auto& [seq, e] : got) seqs.push_back(seq);
  // a: the erasure (3) and its 2 most recent events (5, 6); b: 2 and 7.
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 3, 5, 6, 7}));
  EXPECT_EQ(got[1].second.kind, WalRecordKind::kEraseUser);
}

EmbeddedUserStoreOptions Options(const std::string& dir) {
  EmbeddedUserStoreOptions o;
  o.state_dir = dir + "/state";
  return o;
}

EmbeddedUserStore::SeedFn Seed() {
  return [](EmbeddedUserStore::SeedSink& sink) {
    sink.Seed("alice", {UserEvent{"s1", 10, 1.0f, "train"}, UserEvent{"s2", 11, 1.0f, "train"}});
    sink.Seed("bob", {UserEvent{"b1", 10, 1.0f, "train"}});
  };
}

// Erasure empties the history (seeded and logged), survives a restart that
// seeds again, and later appends start a new history that also survives.
TEST(EmbeddedUserStoreEraseTest, ErasureIsDurableAndAppendsContinue) {
  TempDir tmp;
  {
    auto store = EmbeddedUserStore::Open(Options(tmp.path()), Seed());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Append("alice", UserEvent{"a1", 20, 1.0f, "click"}).ok());
    EXPECT_EQ((*store)->num_users(), 2);
    int64_t erased = -1;
    auto seq = (*store)->EraseUser("alice", &erased);
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, 2u);
    EXPECT_EQ(erased, 3);
    EXPECT_TRUE((*store)->History("alice", 10).empty());
    EXPECT_EQ((*store)->num_users(), 1);
    EXPECT_EQ(Items((*store)->History("bob", 10)), (Strings{"b1"}));
    // Erasing again (or an unknown user) is fine and erases nothing.
    EXPECT_TRUE((*store)->EraseUser("alice", &erased).ok());
    EXPECT_EQ(erased, 0);
    EXPECT_EQ((*store)->EraseUser("", &erased).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  {
    auto store = EmbeddedUserStore::Open(Options(tmp.path()), Seed());
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->History("alice", 10).empty());
    ASSERT_TRUE((*store)->Append("alice", UserEvent{"a2", 30, 1.0f, "click"}).ok());
    EXPECT_EQ(Items((*store)->History("alice", 10)), (Strings{"a2"}));
  }
  auto store = EmbeddedUserStore::Open(Options(tmp.path()), Seed());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Items((*store)->History("alice", 10)), (Strings{"a2"}));
  EXPECT_EQ(Items((*store)->History("bob", 10)), (Strings{"b1"}));
}

}  // namespace
}  // namespace recsys::gateway
