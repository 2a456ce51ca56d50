#include "common/server/health_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace recsys {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream. Registered with the service for its whole life; the
// service pushes every change of its service name. Lock order: the service's
// mu_, then the watcher's mu_.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* owner, std::string service) : owner_(owner), service_(std::move(service)) {}

  const std::string& service() const { return service_; }

  // Sends `status` now, or after the write in progress (only the latest is kept).
  void Push(ServingStatus status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (writing_) {
      pending_ = status;
      return;
    }
    StartWriteLocked(status);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "health watch write failed"));
      return;
    }
    if (pending_.has_value() && !finished_) {
      const ServingStatus next = *pending_;
      pending_.reset();
      StartWriteLocked(next);
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    owner_->Unregister(this);
    delete this;
  }

 private:
  void StartWriteLocked(ServingStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    response_.set_status(status);
    StartWrite(&response_);
  }
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  HealthService* const owner_;
  const std::string service_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
};

HealthService::HealthService() {
  absl::MutexLock lock(&mu_);
  status_[""] = HealthCheckResponse::NOT_SERVING;
}

HealthService::~HealthService() = default;

HealthService::ServingStatus HealthService::Get(const std::string& service) const {
  auto it = status_.find(service);
  return it == status_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& service) const {
  absl::ReaderMutexLock lock(&mu_);
  return Get(service);
}

void HealthService::Set(const std::string& service, ServingStatus status) {
  status_[service] = status;
  for (Watcher* w : watchers_) {
    if (w->service() == service) w->Push(status);
  }
}

void HealthService::SetServingStatus(const std::string& service, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  Set(service, serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
}

void HealthService::SetServingStatus(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  std::vector<std::string> names;
  for (const auto& [name, status] : status_) names.push_back(name);
  for (const std::string& name : names) {
    Set(name, serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  std::vector<std::string> names;
  for (const auto& [name, status] : status_) names.push_back(name);
  for (const std::string& name : names) Set(name, HealthCheckResponse::NOT_SERVING);
  shut_down_ = true;
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ServingStatus status;
  {
    absl::ReaderMutexLock lock(&mu_);
    status = Get(request->service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  watcher->Push(Get(request->service()));
  return watcher;
}

void HealthService::Unregister(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

}  // namespace recsys
