#include "gateway/user_store_metrics.h"

namespace recsys::gateway {
namespace {

prometheus::Histogram::BucketBoundaries OpBuckets() {
  return {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1};
}

}  // namespace

UserStoreMetrics::UserStoreMetrics(ServerMetrics* metrics) {
  if (metrics == nullptr) return;
  prometheus::Registry& r = metrics->registry();
  auto& op_seconds = prometheus::BuildHistogram()
                         .Name("recsys_user_store_op_seconds")
                         .Help(
                             "User store calls by operation (history, append, erase); for "
                             "Redis, waiting for a pooled connection included")
                         .Register(r);
  auto& errors = prometheus::BuildCounter()
                     .Name("recsys_user_store_errors_total")
                     .Help(
                         "User store calls that failed (unreachable, timeout, error reply), "
                         "by operation; a failed history read is answered degraded")
                     .Register(r);
  for (size_t i = 0; i < op_seconds_.size(); ++i) {
    op_seconds_[i] = &op_seconds.Add({{"op", kUserStoreOpNames[i]}}, OpBuckets());
    errors_[i] = &errors.Add({{"op", kUserStoreOpNames[i]}});
  }
  auto counter = [&r](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
  };
  auto gauge = [&r](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
  };
  degraded_reads_ = counter("recsys_user_store_degraded_reads_total",
                            "Histories answered with the seeded (training) part only because "
                            "the user store was unreachable");
  replays_ = counter("recsys_user_store_idempotent_replays_total",
                     "Feedback calls answered from a remembered idempotency key (nothing "
                     "stored again)");
  connections_ =
      gauge("recsys_user_store_pool_connections", "Connections to the user store open now");
  pool_size_ = gauge("recsys_user_store_pool_size", "Connections the user store's pool may open");
  reconnects_ = counter("recsys_user_store_pool_reconnects_total",
                        "Connections to the user store reopened after one was lost");
}

void UserStoreMetrics::ObserveOp(UserStoreOp op, absl::Duration d, bool ok) {
  const auto i = static_cast<size_t>(op);
  if (op_seconds_[i] == nullptr) return;
  op_seconds_[i]->Observe(absl::ToDoubleSeconds(d));
  if (!ok) errors_[i]->Increment();
}

void UserStoreMetrics::CountDegradedRead() {
  if (degraded_reads_ != nullptr) degraded_reads_->Increment();
}

void UserStoreMetrics::CountIdempotentReplay() {
  if (replays_ != nullptr) replays_->Increment();
}

void UserStoreMetrics::SetOpenConnections(int n) {
  if (connections_ != nullptr) connections_->Set(n);
}

void UserStoreMetrics::SetPoolSize(int n) {
  if (pool_size_ != nullptr) pool_size_->Set(n);
}

void UserStoreMetrics::CountReconnect() {
  if (reconnects_ != nullptr) reconnects_->Increment();
}

}  // namespace recsys::gateway
