// The gateway's user state: each user's interaction history.
//
// UserStore is the interface the gateway serves from; EmbeddedUserStore is the
// in-process default (memory + a write-ahead log in a state directory).
// RedisUserStore (redis_user_store.h) keeps what came after the bundle in
// Redis, so several gateway replicas share user state.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/wal.h"

namespace recsys {
struct ModelBundle;
}  // namespace recsys

namespace recsys::gateway {

class UserStoreMetrics;

struct UserEvent {
  std::string item_id;
  int64_t timestamp_s = 0;  // Unix seconds
  float weight = 1.0f;
  std::string event;  // "train" for seeded history, "click", ...
};

struct UserStoreStats {
  int64_t users = 0;
  int64_t events = 0;          // events held in memory (seeded + logged)
  uint64_t refused_new_users = 0;  // appends refused: max_users reached
  uint64_t refused_events = 0;     // appends refused: max_events reached
  uint64_t seeded_events = 0;  // from the seed (not logged)
  uint64_t appends = 0;        // durable appends since Open
  uint64_t fsyncs = 0;
  uint64_t group_commits = 0;  // batches written (one write + one fsync each)
  uint64_t bytes = 0;          // log bytes written since Open
  uint64_t last_fsync_micros = 0;
  uint64_t total_fsync_micros = 0;
  uint64_t replayed_records = 0;  // log records replayed by Open
  uint64_t truncated_bytes = 0;   // torn log tail removed by Open
  uint64_t corrupt_regions = 0;   // log corruption found by Open (see WalStats)
  uint64_t skipped_bytes = 0;     // damaged log bytes skipped by Open (skip policy)
  uint64_t missing_seqs = 0;      // sequence numbers without a readable record
  uint64_t last_seq = 0;          // latest durable sequence number
  uint64_t idempotent_replays = 0;  // AppendOnce calls answered from a remembered key
  // A store behind a network (Redis): its connection pool and failures.
  int64_t pool_size = 0;         // connections the pool may hold open
  int64_t pool_connected = 0;    // connections open now
  uint64_t pool_reconnects = 0;  // connections opened after the first of their slot
  uint64_t store_errors = 0;     // calls that failed (unreachable, timeout, error reply)
  uint64_t degraded_reads = 0;   // ReadHistory answers that are only the seeded part
};

// ReadHistory's answer. `degraded`: only part of the history could be read
// (e.g. the seeded events while an external store is unreachable); `note`
// says why, for the caller's answer.
struct HistoryResult {
  std::vector<UserEvent> events;
  bool degraded = false;
  std::string note;
};

// Thread-safe: any number of concurrent History / Append / stats calls.
class UserStore {
 public:
  virtual ~UserStore() = default;

  // The user's most recent `max_events` events, oldest first (in the order
  // they were stored: seeded history, then appends). Empty for unknown users.
  // Cost: one shard read lock + a copy of the returned events.
  virtual std::vector<UserEvent> History(absl::string_view user_id, size_t max_events) const = 0;

  // History, saying whether it is complete. A store that can fail to read
  // part of a history (an external one) answers with what it has and
  // degraded = true instead of failing; the default is History, never
  // degraded.
  virtual HistoryResult ReadHistory(absl::string_view user_id, size_t max_events) const {
    return HistoryResult{History(user_id, max_events), false, ""};
  }

  // True when History / ReadHistory wait for the network (up to the store's
  // timeout): callers then read on a worker pool, never on a gRPC callback
  // thread. False for the embedded store (a read lock).
  virtual bool reads_block() const { return false; }

  // Stores `e` for `user_id` and returns its sequence number once durable;
  // History reflects it when this returns. Blocks for a disk sync (~1 ms):
  // never call it on a gRPC callback thread. Errors: InvalidArgument (empty
  // ids, oversized fields), Unavailable (the log failed; nothing is acked).
  virtual absl::StatusOr<uint64_t> Append(absl::string_view user_id, UserEvent e) = 0;

  // Append, at most once per (user_id, idempotency_key): a call with a key
  // the store remembers for this user stores nothing and returns the first
  // call's sequence number (whatever `e` holds); concurrent calls with one key
  // store once. An empty key is a plain Append. How long keys are remembered
  // is the store's (see each). Errors: Append's; Unimplemented for a store
  // without keys (the default, for a non-empty key).
  virtual absl::StatusOr<uint64_t> AppendOnce(absl::string_view user_id, UserEvent e,
                                              absl::string_view idempotency_key) {
    if (!idempotency_key.empty()) {
      return absl::UnimplementedError("this user store does not remember idempotency keys");
    }
    return Append(user_id, std::move(e));
  }

  // Erases every stored event of `user_id` (seeded and appended) and returns
  // the erasure's sequence number once it is durable; History is empty when
  // this returns, and later SeedFrom calls and restarts do not bring the
  // events back. Appends after it start a new history. Blocks for a disk sync
  // like Append. `erased` (may be null) receives the count of events dropped
  // from memory. Errors: InvalidArgument (empty id), Unavailable (the log
  // failed), Unimplemented (a store without erasure).
  virtual absl::StatusOr<uint64_t> EraseUser(absl::string_view user_id, int64_t* erased) {
    return absl::UnimplementedError("this user store cannot erase users");
  }

  virtual int64_t num_users() const = 0;
  virtual UserStoreStats stats() const = 0;

  // Adds the histories `bundle` was fit on (each event "train", weight 1) as
  // every user's oldest events, ahead of the events the store already holds or
  // gets later, as if they had been stored first (users erased by EraseUser
  // get no seed). Not logged: they are
  // reproducible from the bundle. The gateway calls it once, with the first
  // bundle it serves, before it answers any call; calling it again adds the
  // events again. Cost: O(events in the bundle's histories).
  virtual void SeedFrom(const ModelBundle& bundle) = 0;
};

// Calls `fn` once per user of `bundle`'s training histories with the user's
// events (oldest first, as SeedFrom stores them).
void ForEachTrainingHistory(
    const ModelBundle& bundle,
    const std::function<void(absl::string_view user_id, std::vector<UserEvent> events)>& fn);

struct EmbeddedUserStoreOptions {
  // Holds the write-ahead log (created if missing; one process at a time).
  std::string state_dir = "state";
  // Log tuning. wal.compact_keep_per_user is overridden by
  // max_events_per_user (compaction keeps what memory keeps).
  WalOptions wal;
  // Events kept in memory per user (the most recent; seeded ones count).
  size_t max_events_per_user = 1000;
  // Bounds on the whole store, enforced on Append only (see the class
  // comment): an Append for a user not yet held once `max_users` users are
  // held, or one that would grow the total past `max_events` (a user below
  // max_events_per_user), is refused with ResourceExhausted and not logged.
  // Concurrent appends may overshoot each by at most their number. The
  // defaults fit this project's one-machine target (10^6 users seeded with
  // 5 x 10^7 events) with room for new users, in ~5 GB; see README.
  int64_t max_users = 2'000'000;
  int64_t max_events = 80'000'000;
  // Lock shards (users are spread over them by a hash of the id).
  int num_shards = 64;
  // AppendOnce's memory of idempotency keys, in memory only (a restart
  // forgets them): at most this many (user, key) pairs, the oldest forgotten
  // first, each for at most idempotency_ttl. ~100 bytes + the ids each.
  size_t idempotency_keys = 100'000;
  absl::Duration idempotency_ttl = absl::Hours(24);
  // Call latencies and idempotent replays (user_store_metrics.h); not owned,
  // may be null.
  UserStoreMetrics* metrics = nullptr;
};

// Memory: ~56 bytes per event (+ the item id's length beyond 15 bytes) and
// ~100 bytes per user (+ the id beyond 15 bytes); std::vector growth can add
// up to the same again. Per user at most max_events_per_user events; in total
// at most max_users users and max_events events (plus concurrent overshoot).
//
// Full store policy: refuse, never evict. Acknowledged events are never
// dropped to make room (eviction would break the promise that an acknowledged
// event survives, need a logged eviction record to stay the same across
// restarts and compactions, and let a flood of made-up user ids push real
// users' histories out). Instead new growth is refused with ResourceExhausted
// (counted in stats) until the operator raises the bound or erases users.
// The bounds never drop anything already held: the seed and the log replay
// load in full even past them (a WARNING says so), so a restart holds exactly
// what was acknowledged before it, and compaction keeps what memory keeps.
class EmbeddedUserStore final : public UserStore {
 public:
  // Receives the seed during Open. Seed events are not logged: they are the
  // training histories, reproducible from the model bundle.
  class SeedSink {
   public:
    // Adds `events` (oldest first) after the user's earlier seeded events.
    void Seed(absl::string_view user_id, std::vector<UserEvent> events);

   private:
    friend class EmbeddedUserStore;
    explicit SeedSink(EmbeddedUserStore* store) : store_(store) {}
    EmbeddedUserStore* store_;
  };
  using SeedFn = std::function<void(SeedSink&)>;

  // Creates state_dir if needed, runs `seed` (may be empty), replays the log
  // on top (so logged events follow the seed in each history) and starts the
  // log writer. A seed added later (SeedFrom) lands in the same place.
  // Errors: see Wal::Open (DataLoss for a damaged log).
  static absl::StatusOr<std::unique_ptr<EmbeddedUserStore>> Open(
      const EmbeddedUserStoreOptions& options, const SeedFn& seed = nullptr);

  // IMPORTANT: no Append may be running (it writes out pending appends).
  ~EmbeddedUserStore() override;

  std::vector<UserEvent> History(absl::string_view user_id, size_t max_events) const override;
  absl::StatusOr<uint64_t> Append(absl::string_view user_id, UserEvent e) override;
  // Keys live in memory only (EmbeddedUserStoreOptions::idempotency_keys):
  // a retry after a gateway restart, or after its key was forgotten, stores
  // the event again.
  absl::StatusOr<uint64_t> AppendOnce(absl::string_view user_id, UserEvent e,
                                      absl::string_view idempotency_key) override;
  absl::StatusOr<uint64_t> EraseUser(absl::string_view user_id, int64_t* erased) override;
  int64_t num_users() const override { return num_users_.load(std::memory_order_relaxed); }
  UserStoreStats stats() const override;
  void SeedFrom(const ModelBundle& bundle) override;

  // Compacts the log now (see Wal::Compact); normally automatic.
  absl::Status Compact() { return wal_->Compact(); }

 private:
  // One event in memory: 56 bytes (a UserEvent is 80: its event name is a
  // string of its own). At 10^6 users seeded with 4.8 x 10^7 training events
  // that is ~2.7 GB instead of ~4.2 GB.
  struct Stored {
    std::string item_id;
    int64_t timestamp_s = 0;
    uint64_t seq = 0;  // 0 = seeded
    float weight = 1.0f;
    uint16_t event = 0;  // EventNames index
  };
  // The distinct event names met (a handful: the API's event types and
  // "train"), shared by every stored event. Past kMaxNames distinct names
  // (only a log written by something else could hold them) further ones are
  // kept as kOverflowName.
  class EventNames {
   public:
    static constexpr size_t kMaxNames = 4096;
    static constexpr char kOverflowName[] = "other";
    EventNames() : names_(new std::string[kMaxNames]) {}
    uint16_t Intern(const std::string& name);
    // Lock-free: a slot is written once, before the count that publishes it.
    const std::string& Name(uint16_t index) const;

   private:
    absl::Mutex mu_;
    absl::flat_hash_map<std::string, uint16_t> index_ ABSL_GUARDED_BY(mu_);
    std::unique_ptr<std::string[]> names_;  // kMaxNames slots, [0, count_) set
    std::atomic<size_t> count_{0};
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::vector<Stored>> users ABSL_GUARDED_BY(mu);
    // Users erased (EraseUser or a replayed erasure) -> the erasure's seq:
    // seeds skip them and earlier-sequenced events are dropped.
    absl::flat_hash_map<std::string, uint64_t> erased ABSL_GUARDED_BY(mu);
  };

  explicit EmbeddedUserStore(const EmbeddedUserStoreOptions& options);
  // Append without its metrics.
  absl::StatusOr<uint64_t> LoggedAppend(absl::string_view user_id, UserEvent e);
  Shard& ShardFor(absl::string_view user_id) const;
  // Inserts in sequence order (concurrent appends may finish out of order)
  // and drops the oldest events beyond the per-user cap.
  void Insert(absl::string_view user_id, Stored s);
  // ResourceExhausted when an append for `user_id` would pass max_users or
  // max_events (counting the refusal), else OK.
  absl::Status CheckRoom(absl::string_view user_id);
  void WarnIfOverBounds(const char* when) const;
  // Drops every event of `user_id` sequenced before `seq` and remembers the
  // erasure; returns the count dropped.
  int64_t Erase(absl::string_view user_id, uint64_t seq);
  // Inserts `events` (oldest first) after the user's seeded events and before
  // the logged ones, then drops the oldest beyond the cap. No-op for an erased
  // user.
  void InsertSeed(absl::string_view user_id, std::vector<UserEvent> events);
  Stored ToStored(UserEvent e, uint64_t seq);
  UserEvent FromStored(const Stored& s) const;

  // AppendOnce's remembered keys: (user, key) -> sequence, 0 while the first
  // call with that key is still appending (later ones wait for it).
  struct IdempotencyKeys {
    absl::Mutex mu;
    absl::CondVar settled;  // a pending key got its sequence or was dropped
    absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> seqs ABSL_GUARDED_BY(mu);
    // Settled keys, oldest first, with when they were stored: the order in
    // which they are forgotten.
    std::deque<std::pair<std::pair<std::string, std::string>, absl::Time>> order
        ABSL_GUARDED_BY(mu);
  };

  const EmbeddedUserStoreOptions options_;
  EventNames event_names_;
  IdempotencyKeys keys_;
  std::atomic<uint64_t> idempotent_replays_{0};
  std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> num_users_{0};
  std::atomic<uint64_t> seeded_events_{0};
  std::atomic<int64_t> num_events_{0};
  std::atomic<uint64_t> refused_new_users_{0};
  std::atomic<uint64_t> refused_events_{0};
  std::unique_ptr<Wal> wal_;
};

}  // namespace recsys::gateway
