// The shape every recsys server shares: one gRPC service that answers from the
// registry's production bundle. BundleServer owns the bundle holder (polling
// the alias, hot swap), the service and the gRPC server. The server listens at
// once; health is NOT_SERVING (and the service sees no bundle) until the first
// bundle has loaded and been prepared, then SERVING.
//
//   class RankingServer : public BundleServer<RankingService> {
//    public:
//     static absl::StatusOr<std::unique_ptr<RankingServer>> Start(...) {
//       std::unique_ptr<RankingServer> self(new RankingServer());
//       RETURN_IF_ERROR(self->Init(server, bundle, start_polling, kName, "ranking",
//                                  metrics, [&](BundleSource s) { return ...; }));
//       return self;
//     }
//   };
//
// A main() then ends with ServeUntilTerminated(std::move(server), ...) (see
// server_main_util.h).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/log.h"
#include "common/server/access_log.h"
#include "common/server/bundle_holder.h"
#include "common/server/log_flags.h"  // for the service mains
#include "common/server/metrics.h"
#include "common/server/server_main_util.h"

namespace recsys {

// Runs once with the first bundle loaded, before the service sees it and before
// health turns SERVING (e.g. to seed state from it). On the polling thread (or
// a PollOnce caller); must not call PollOnce or Shutdown.
using FirstBundleHook = std::function<void(const ModelBundle& first)>;

template <typename Service>
class BundleServer {
 public:
  // Shutdown(ZeroDuration()) if not done.
  virtual ~BundleServer() { Shutdown(absl::ZeroDuration()); }

  int port() const { return port_; }
  grpc::Server* grpc_server() { return server_.get(); }
  BundleHolder& holder() { return *holder_; }
  Service& service() { return *service_; }

  // True once the first bundle is loaded and prepared (the service sees it).
  // Stays true through Shutdown.
  bool has_bundle() const { return has_bundle_.load(std::memory_order_acquire); }

  // Health NOT_SERVING, drains in-flight calls for up to `drain`, cancels the
  // rest, stops bundle polling. Idempotent.
  void Shutdown(absl::Duration drain) {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (server_ != nullptr) ShutdownGracefully(server_.get(), drain);
    if (holder_ != nullptr) holder_->Stop();
  }

 protected:
  BundleServer() = default;

  // Creates the holder (bundle.on_change, if set, runs after health flips to
  // SERVING; metrics is set here), the service from `make_service` (given a
  // source that returns null until the first bundle is prepared, then the
  // holder's current bundle) and the gRPC server on `server.address` with
  // health for `health_service`; starts polling unless `start_polling` is false
  // (tests drive holder().PollOnce()). `first_bundle` (may be empty) prepares
  // the first bundle, see FirstBundleHook. `metrics` (not owned, may be null)
  // must outlive the server. Unavailable if the address cannot be bound.
  absl::Status Init(ServerOptions server, BundleHolderOptions bundle, bool start_polling,
                    const std::string& health_service, const std::string& log_name,
                    ServerMetrics* metrics,
                    const std::function<std::unique_ptr<Service>(BundleSource)>& make_service,
                    FirstBundleHook first_bundle = {}) {
    bundle.metrics = metrics;
    std::function<void(const std::string&)> user_on_change = std::move(bundle.on_change);
    // Runs on the polling thread (or a PollOnce caller), only once server_ is
    // set; polls are serialized, so the first-bundle step runs once.
    bundle.on_change = [this, health_service, log_name, user_on_change,
                        first_bundle = std::move(first_bundle)](const std::string& version) {
      if (!has_bundle()) {
        if (first_bundle) first_bundle(*holder_->Current());
        has_bundle_.store(true, std::memory_order_release);
      }
      SetServing(server_.get(), health_service, true);
      LOG(INFO) << log_name << ": serving bundle version " << version << ", health SERVING";
      if (user_on_change) user_on_change(version);
    };
    holder_ = std::make_unique<BundleHolder>(std::move(bundle));
    BundleHolder* holder = holder_.get();
    service_ = make_service([this, holder]() -> std::shared_ptr<const ModelBundle> {
      if (!has_bundle()) return nullptr;
      return holder->Current();
    });
    server.health_service = health_service;
    // Every call gets a request id, trace context and an access-log line.
    absl::StatusOr<StartedServer> started =
        BuildAndStartServer(server, {service_.get()}, [](grpc::ServerBuilder& builder) {
          std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> v;
          v.push_back(std::make_unique<AccessLogInterceptorFactory>());
          builder.experimental().SetInterceptorCreators(std::move(v));
        });
    if (!started.ok()) return started.status();
    server_ = std::move(started->server);
    port_ = started->port;
    if (start_polling) return holder_->Start();
    return absl::OkStatus();
  }

 private:
  // Declaration order = reverse destruction order: the gRPC server goes first,
  // then the service (draining its workers), then the holder.
  std::unique_ptr<BundleHolder> holder_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> has_bundle_{false};
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace recsys
