// A UserStore whose appended events live in Redis, so several gateway
// replicas share user state (recsys-gateway --user_store=redis://host:port/db).
//
// What lives where:
//   memory  the bundle's training histories (SeedFrom), per user at most
//           max_events_per_user, exactly as the embedded store seeds them:
//           reproducible from the bundle, never written to Redis.
//   Redis   per user (the id escaped, so keys never collide):
//             <prefix>:{<user>}:events      list of the events appended after
//                                           the bundle, oldest first, capped at
//                                           max_events_per_user (LTRIM)
//             <prefix>:{<user>}:erased      the sequence of the user's erasure:
//                                           hides the seeded history on every
//                                           replica and after restarts
//             <prefix>:{<user>}:idem:<key>  the sequence an idempotency key got
//                                           (expires after idempotency_ttl)
//           and <prefix>:seq (the sequence counter) and <prefix>:erasures
//           (every erased user id in order; each replica reads the entries it
//           has not seen when a read shows the list grew).
// History = the seeded events (none once erased) followed by the Redis
// events, the most recent max_events of them.
//
// Every write is one Lua script (EVALSHA, EVAL when Redis lost its script
// cache), so it is atomic: Append = [the key's sequence if it is known, else]
// INCR + RPUSH + LTRIM [+ SET key EX ttl]; EraseUser = INCR + DEL events + SET
// erased + RPUSH erasures. A call returns only after Redis answered (and, with
// wait_replicas, after WAIT saw that many replicas take the write), so with
// Redis' `appendfsync always` (deploy/redis/redis.conf) an acknowledged event
// survives a Redis crash.
//
// Failures never produce a false acknowledgement: Redis unreachable, a
// timeout, or an error reply make Append / EraseUser fail (Unavailable with the
// reason; ResourceExhausted when Redis is out of memory). A timed-out write
// may still have been applied: a retry with the same idempotency key is then
// answered from the key instead of storing the event twice. ReadHistory
// never fails: without Redis it answers the seeded part, degraded, with a note.
// A user erased through another gateway is known here from that replica's
// next successful read on (the erasures list): only erasures made since this
// gateway's last successful read, while Redis is unreachable, are unknown to
// its degraded answers.
//
// One Redis primary (with optional replicas); not Redis Cluster (the scripts
// touch the global sequence key, which a cluster would place elsewhere).
//
// Threading: every method may be called concurrently. History, ReadHistory,
// Append, AppendOnce and EraseUser block for a Redis round trip (bounded by
// the pool's timeout; see RedisPoolOptions): call them on worker threads.
// Cost: one round trip per call; History copies the returned events.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/redis_client.h"
#include "gateway/user_store.h"
#include "gateway/user_store_metrics.h"

namespace recsys::gateway {

struct RedisUserStoreOptions {
  // Endpoint, password, timeout, pool size, reconnect backoff (and metrics,
  // set from `metrics` below).
  RedisPoolOptions pool;
  // Events kept per user, seeded and appended together (the most recent).
  size_t max_events_per_user = 5000;
  // How long Redis remembers an idempotency key.
  absl::Duration idempotency_ttl = absl::Hours(24);
  // > 0: each write is acknowledged only once this many replicas have it
  // (WAIT, up to half the pool's timeout); fewer → Unavailable, although the
  // primary holds the write (a retry with the same idempotency key is safe).
  int wait_replicas = 0;
  // Prefix of every key (one Redis database may hold several deployments).
  std::string key_prefix = "recsys";
  // Not owned, may be null.
  UserStoreMetrics* metrics = nullptr;
};

class RedisUserStore final : public UserStore {
 public:
  // Connects, checks Redis answers (PING; AUTH and SELECT errors surface
  // here) and reads the erased users. Errors: Unavailable (unreachable, bad
  // password, bad database), InvalidArgument (bad options).
  static absl::StatusOr<std::unique_ptr<RedisUserStore>> Open(const RedisUserStoreOptions& options);
  // IMPORTANT: no call may be running.
  ~RedisUserStore() override;

  std::vector<UserEvent> History(absl::string_view user_id, size_t max_events) const override;
  HistoryResult ReadHistory(absl::string_view user_id, size_t max_events) const override;
  bool reads_block() const override { return true; }
  absl::StatusOr<uint64_t> Append(absl::string_view user_id, UserEvent e) override;
  // Keys are remembered in Redis for idempotency_ttl: across replicas and
  // restarts of gateways and of Redis (with its AOF).
  absl::StatusOr<uint64_t> AppendOnce(absl::string_view user_id, UserEvent e,
                                      absl::string_view idempotency_key) override;
  // `erased` counts the seeded events this gateway held and the events Redis
  // held.
  absl::StatusOr<uint64_t> EraseUser(absl::string_view user_id, int64_t* erased) override;
  // Users with seeded history (Redis holds others too; counting them would
  // need a scan).
  int64_t num_users() const override { return seeded_users_.load(std::memory_order_relaxed); }
  UserStoreStats stats() const override;
  void SeedFrom(const ModelBundle& bundle) override;

  // Adds `events` (oldest first) after the user's earlier seeded events, then
  // keeps the most recent max_events_per_user. No-op for an erased user.
  // SeedFrom calls it for each user of the bundle.
  void Seed(absl::string_view user_id, std::vector<UserEvent> events);

  // The Redis key of `user_id`'s `part` ("events", "erased", "idem:<key>"):
  // "<prefix>:{<escaped user>}:<escaped part>". Bytes other than [A-Za-z0-9._-]
  // are escaped as %XX, so ids never reach into another key. For tests.
  std::string UserKey(absl::string_view user_id, absl::string_view part) const;

 private:
  // One seeded event: 24 bytes (names are shared).
  struct SeedEvent {
    int64_t timestamp_s;
    uint32_t item;   // names_ index
    uint32_t event;  // names_ index
    float weight;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::vector<SeedEvent>> seeds ABSL_GUARDED_BY(mu);
    // Users known to be erased: they get no seed.
    absl::flat_hash_set<std::string> erased ABSL_GUARDED_BY(mu);
  };
  // A Lua script and its SHA-1 (for EVALSHA).
  struct Script {
    std::string text;
    std::string sha1;
  };

  explicit RedisUserStore(const RedisUserStoreOptions& options);
  Shard& ShardFor(absl::string_view user_id) const;
  // Index of `name` in names_ (added if new). Caller holds names_mu_.
  uint32_t Intern(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(names_mu_);
  // The last `n` seeded events of `user_id` (none when erased).
  std::vector<UserEvent> SeedTail(absl::string_view user_id, size_t n) const;
  // Remembers that `user_id` is erased and drops its seed; returns the count
  // of seeded events dropped.
  int64_t MarkErased(absl::string_view user_id) const;
  // Reads the erasures list past what this store has seen (`length` is its
  // length as Redis reported it). Best effort: a failure is retried on a
  // later read.
  void SyncErasures(int64_t length) const;
  // Runs `script` with `keys` and `args` (EVALSHA; EVAL after NOSCRIPT),
  // followed on the same connection by `after` (e.g. WAIT). Returns the
  // replies (script first) or the failure. `retry`: see RedisPool::Run.
  absl::StatusOr<std::vector<RedisReplyPtr>> RunScript(
      const Script& script, const std::vector<std::string>& keys,
      const std::vector<std::string>& args, RedisPool::Retry retry,
      const std::vector<RedisPool::Command>& after = {}) const;
  // The WAIT command for wait_replicas (empty when 0), and the check of its
  // reply for a write that got `seq`.
  std::vector<RedisPool::Command> WaitCommand() const;
  absl::Status CheckWait(const redisReply& reply, uint64_t seq) const;
  // Counts a failed call of `op` and returns `status`.
  absl::Status CallFailed(UserStoreOp op, absl::Time start, absl::Status status) const;
  void CallSucceeded(UserStoreOp op, absl::Time start) const;
  std::string GlobalKey(absl::string_view name) const;

  const RedisUserStoreOptions options_;
  std::unique_ptr<UserStoreMetrics> own_metrics_;  // null-backed when options_.metrics is null
  UserStoreMetrics* const metrics_;
  mutable RedisPool pool_;
  const Script append_script_;
  const Script history_script_;
  const Script erase_script_;
  std::unique_ptr<Shard[]> shards_;
  // Item ids and event names of the seed, shared by every seeded event.
  mutable absl::Mutex names_mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(names_mu_);
  absl::flat_hash_map<std::string, uint32_t> name_index_ ABSL_GUARDED_BY(names_mu_);

  mutable std::atomic<int64_t> seeded_users_{0};
  mutable std::atomic<int64_t> seeded_events_{0};
  // Entries of <prefix>:erasures applied here.
  mutable std::atomic<int64_t> erasures_seen_{0};
  mutable std::atomic<uint64_t> errors_{0};
  mutable std::atomic<uint64_t> degraded_reads_{0};
  mutable std::atomic<uint64_t> bad_events_{0};  // undecodable list entries skipped
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> replays_{0};
  std::atomic<uint64_t> last_seq_{0};
};

}  // namespace recsys::gateway
