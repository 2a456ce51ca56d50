// A small blocking Redis client for the gateway's Redis user store: where the
// server is (ParseRedisUrl), and a fixed pool of hiredis connections with
// timeouts and reconnection (RedisPool).
//
// Why hiredis 0.14 (Debian 12's libhiredis-dev): Debian-maintained, small (a
// C library of a few thousand lines), and its synchronous API fits the
// gateway's design, where every store call already runs on a worker thread
// (Feedback's pool, the Recommend store-read pool) and may block for at most
// the configured timeout. redis-plus-plus is not packaged in Debian 12.
// hiredis 0.14 has no TLS: reach Redis over a private network (or a tunnel).
//
// Threading: RedisPool is safe to call from any number of threads; each call
// holds one connection for its round trip and no lock while on the network.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct redisContext;
struct redisReply;

namespace recsys::gateway {

class UserStoreMetrics;

// A Redis server and database: redis://host[:port][/db].
struct RedisEndpoint {
  std::string host;  // a name, an IPv4 address or an IPv6 address (no brackets)
  int port = 6379;
  int db = 0;
  // "host:port/db" (IPv6 hosts in brackets), for messages.
  std::string ToString() const;
};

// Parses `url`: "redis://" then a host (a name, IPv4, or [IPv6]), an optional
// ":port" (1..65535, default 6379) and an optional "/db" (0..2^31-1, default
// 0). InvalidArgument, naming the fault, for anything else: another scheme
// (rediss:// is refused: hiredis 0.14 has no TLS), credentials in the URL
// (they would show in the process list: use a password file), a query or
// fragment.
absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url);

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// The status a Redis error reply stands for: OOM → ResourceExhausted (maxmemory
// reached, noeviction); LOADING, BUSY, MASTERDOWN, READONLY, NOREPLICAS,
// TRYAGAIN, CLUSTERDOWN, NOAUTH, WRONGPASS → Unavailable; anything else →
// Internal. The message keeps Redis' text.
absl::Status RedisErrorStatus(absl::string_view error_reply);

struct RedisPoolOptions {
  RedisEndpoint endpoint;
  // Sent with AUTH on every new connection; empty = none.
  std::string password;
  // Bounds each step of a call: waiting for a free connection, connecting,
  // and each read or write on the socket (SO_RCVTIMEO / SO_SNDTIMEO).
  absl::Duration timeout = absl::Milliseconds(200);
  // Connections held open at most (one per concurrent call).
  int size = 8;
  // After a failed connect, calls that need a new connection fail at once
  // for this long instead of each waiting for its own connect to fail.
  absl::Duration reconnect_backoff = absl::Milliseconds(50);
  // Not owned, may be null: open connections and reconnects.
  UserStoreMetrics* metrics = nullptr;
};

class RedisPool {
 public:
  using Command = std::vector<std::string>;

  // Connects lazily: the first calls open the connections.
  explicit RedisPool(RedisPoolOptions options);
  // IMPORTANT: no call may be running.
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // Whether Run may send the commands again after a failure.
  enum class Retry {
    kNever,    // a write that must not be applied twice
    kIfStale,  // safe to repeat (a read, or a write guarded by an idempotency key)
  };

  // Sends `commands` on one connection at once (pipelined: one round trip)
  // and returns their replies in order. Error replies are replies (see
  // RedisErrorStatus); the status is Unavailable, with the reason, when
  // Redis could not be reached or did not answer in time (the connection is
  // then closed and the next call opens a new one), or when no connection
  // became free within the timeout. A timed-out write may still have been
  // applied by Redis.
  // Redis closing a connection (a restart) closes every pooled connection
  // opened before it, as each is used next: they are as dead. With
  // Retry::kIfStale a call that met such a closed connection is sent once
  // more on a new one, so a Redis restart costs no failed reads.
  absl::StatusOr<std::vector<RedisReplyPtr>> Run(const std::vector<Command>& commands,
                                                 Retry retry = Retry::kNever);

  struct Stats {
    int size = 0;
    int connected = 0;
    uint64_t reconnects = 0;  // connections opened in a slot that had one before
    uint64_t failures = 0;    // calls that ended Unavailable
  };
  Stats stats() const;
  const RedisPoolOptions& options() const { return options_; }

 private:
  struct Slot {
    redisContext* context = nullptr;
    bool ever_connected = false;
    uint64_t generation = 0;  // generation_ when connected
  };
  // One attempt of Run; `closed_by_peer` is set when the connection was
  // found closed by Redis (not a timeout).
  absl::StatusOr<std::vector<RedisReplyPtr>> RunOnce(const std::vector<Command>& commands,
                                                     bool* closed_by_peer);
  // Takes a free slot (waiting up to the timeout), or null with `error` set.
  Slot* Acquire(std::string* error);
  void Release(Slot* slot);
  // Opens `slot`'s connection (AUTH, SELECT). Fails at once within the
  // backoff after a failed connect.
  absl::Status Connect(Slot* slot);
  void Close(Slot* slot);
  absl::Status Failed(const std::string& message);

  const RedisPoolOptions options_;
  std::vector<Slot> slots_;
  mutable absl::Mutex mu_;
  absl::CondVar freed_;
  std::vector<Slot*> free_ ABSL_GUARDED_BY(mu_);
  absl::Time next_connect_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
  // Advanced whenever Redis closed a connection: slots connected in an
  // earlier generation are reopened before use.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> connected_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace recsys::gateway
