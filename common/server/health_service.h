// grpc.health.v1.Health for our servers, replacing gRPC's default service.
//
// gRPC's default health service reports the overall service "" as SERVING
// from the moment the server starts until the first SetServingStatus call, so
// a probe could see a server without a model as ready for an instant. This one
// starts every status NOT_SERVING and only the owner flips it (SetServing in
// server_main_util.h, through server->GetHealthCheckService()).
//
// Check: the status of a registered service name ("" and the names set so far),
// NOT_FOUND for others. Watch: streams the status now and on every change
// (SERVICE_UNKNOWN for an unknown name until it is set); a slow watcher only
// ever gets the latest status. Shutdown: everything NOT_SERVING, later changes
// ignored (what a draining server wants).
//
// Install with BuildAndStartServer (server_main_util.cc): the server owns it.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/health_check_service_interface.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace recsys {

class HealthService final : public grpc::HealthCheckServiceInterface,
                            public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  HealthService();
  ~HealthService() override;

  // HealthCheckServiceInterface.
  void SetServingStatus(const std::string& service, bool serving) override;
  void SetServingStatus(bool serving) override;
  void Shutdown() override;

  // The status Check would answer (SERVICE_UNKNOWN for an unknown name).
  ServingStatus StatusOf(const std::string& service) const;

  // grpc.health.v1.Health.
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  void Set(const std::string& service, ServingStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ServingStatus Get(const std::string& service) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Unregister(Watcher* watcher);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> status_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace recsys
