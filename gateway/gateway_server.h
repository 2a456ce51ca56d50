// The wiring of one gateway process, the same shape as the retrieval and
// ranking servers (BundleServer): bundle holder (gateway parts: catalogue,
// trending, training histories) -> GatewayService -> gRPC server with health
// and reflection. The server listens at once and is NOT_SERVING until the
// first bundle has loaded and seeded the user store (UserStore::SeedFrom);
// then SERVING.
//
//   ASSIGN_OR_RETURN(auto metrics, ServerMetrics::Create("0.0.0.0:9091"));
//   ASSIGN_OR_RETURN(auto store, EmbeddedUserStore::Open(store_options));  // replays the log
//   GatewayServerOptions o;
//   o.server.address = "0.0.0.0:50051";
//   o.bundle.registry_root = "registry"; o.bundle.model_name = "movielens";
//   o.retrieval = MakeBackendChannel("dns:///retrieval:50052");
//   o.ranking = MakeBackendChannel("dns:///ranking:50053");
//   ASSIGN_OR_RETURN(auto server, GatewayServer::Start(std::move(o), store.get(), metrics.get()));
//   return ServeUntilTerminated(std::move(server), std::move(metrics), drain, "recsys-gateway");
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/server/bundle_holder.h"
#include "common/server/bundle_server.h"
#include "common/server/metrics.h"
#include "common/server/server_main_util.h"
#include "gateway/gateway_service.h"
#include "gateway/user_store.h"
#include "grpcpp/channel.h"

namespace recsys::gateway {

struct GatewayServerOptions {
  // health_service is forced to kGatewayServiceName.
  ServerOptions server;
  // registry_root, model_name, poll_interval (and, for tests, loader /
  // production_version). The loader defaults to ModelBundle::Load with
  // BundleParts::kGateway. on_change, if set, runs after health flips to
  // SERVING; metrics is set by Start.
  BundleHolderOptions bundle;
  GatewayOptions service;
  // Channels to recsys.v1.Retrieval and recsys.v1.Ranking (MakeBackendChannel).
  std::shared_ptr<grpc::ChannelInterface> retrieval;
  std::shared_ptr<grpc::ChannelInterface> ranking;
  // false: no polling thread; the caller drives holder().PollOnce() (tests).
  bool start_polling = true;
};

class GatewayServer : public BundleServer<GatewayService> {
 public:
  // `store` (seeded from the first bundle) and `metrics` (may be null) are not
  // owned and must outlive the server. Unavailable if the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(GatewayServerOptions options,
                                                              UserStore* store,
                                                              ServerMetrics* metrics);

 private:
  GatewayServer() = default;
};

}  // namespace recsys::gateway
