#include "gateway/gateway_server.h"

#include <string>
#include <utility>

#include "common/log.h"

namespace recsys::gateway {

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(GatewayServerOptions options,
                                                                    UserStore* store,
                                                                    ServerMetrics* metrics) {
  if (!options.bundle.loader) {
    options.bundle.loader = [](const std::string& dir) {
      return ModelBundle::Load(dir, BundleParts::kGateway);
    };
  }
  std::unique_ptr<GatewayServer> self(new GatewayServer());
  absl::Status s = self->Init(
      std::move(options.server), std::move(options.bundle), options.start_polling,
      kGatewayServiceName, "gateway", metrics,
      [&](BundleSource bundles) {
        return std::make_unique<GatewayService>(std::move(options.service), std::move(bundles),
                                                store, std::move(options.retrieval),
                                                std::move(options.ranking), metrics);
      },
      [store](const ModelBundle& first) {
        // The training histories go under the events the log replayed.
        store->SeedFrom(first);
        LOG(INFO) << "user store seeded from bundle " << first.manifest.version() << ": "
                  << store->num_users() << " users";
      });
  if (!s.ok()) return s;
  return self;
}

}  // namespace recsys::gateway
