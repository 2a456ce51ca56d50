// Metric families of the user store's calls, registered on the server's
// registry by whichever store runs (gateway_metrics.h has the embedded store's
// recsys_wal_* and recsys_user_store_users / _events). The pool series are
// the Redis store's; the embedded store leaves them at 0.
//   recsys_user_store_op_seconds{op}            histogram, one store call ("history",
//                                               "append", "erase"); for Redis, waiting for
//                                               a pooled connection and any reconnect
//                                               included
//   recsys_user_store_errors_total{op}          counter, store calls that failed
//                                               (unreachable, timeout, error reply); a
//                                               failed "history" is answered degraded
//   recsys_user_store_degraded_reads_total      counter, histories answered with the
//                                               seeded part only (the store was unreachable)
//   recsys_user_store_idempotent_replays_total  counter, Feedback retries answered from a
//                                               remembered idempotency key (nothing stored)
//   recsys_user_store_pool_connections          gauge, connections open now
//   recsys_user_store_pool_size                 gauge, connections the pool may open
//   recsys_user_store_pool_reconnects_total     counter, connections reopened after one
//                                               was lost (Redis restarted, timed out, ...)
//
// Every op label exists at 0 from construction. Built on a null ServerMetrics
// every method is a no-op.
// Threading: every method is safe to call concurrently.
#pragma once

#include <array>

#include "absl/time/time.h"
#include "common/server/metrics.h"

namespace recsys::gateway {

// The op label values.
enum class UserStoreOp { kHistory, kAppend, kErase };
inline constexpr const char* kUserStoreOpNames[] = {"history", "append", "erase"};

class UserStoreMetrics {
 public:
  // `metrics` (not owned, may be null) must outlive this object.
  explicit UserStoreMetrics(ServerMetrics* metrics);
  UserStoreMetrics(const UserStoreMetrics&) = delete;
  UserStoreMetrics& operator=(const UserStoreMetrics&) = delete;

  // One store call of `op` that took `d`. Cost: a histogram observation.
  void ObserveOp(UserStoreOp op, absl::Duration d, bool ok);
  void CountDegradedRead();
  void CountIdempotentReplay();
  void SetOpenConnections(int n);
  void SetPoolSize(int n);
  void CountReconnect();

 private:
  std::array<prometheus::Histogram*, 3> op_seconds_{};  // by UserStoreOp
  std::array<prometheus::Counter*, 3> errors_{};
  prometheus::Counter* degraded_reads_ = nullptr;
  prometheus::Counter* replays_ = nullptr;
  prometheus::Gauge* connections_ = nullptr;
  prometheus::Gauge* pool_size_ = nullptr;
  prometheus::Counter* reconnects_ = nullptr;
};

}  // namespace recsys::gateway
