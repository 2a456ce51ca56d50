#include "gateway/backend_channel.h"

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace recsys::gateway {

namespace {

grpc::ChannelArguments BackendChannelArguments() {
  grpc::ChannelArguments args;
  // Round-robin over every resolved address; retry UNAVAILABLE once, quickly
  // (the call's deadline still bounds the total).
  args.SetServiceConfigJSON(R"json({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
      "name": [{"service": "recsys.v1.Retrieval"}, {"service": "recsys.v1.Ranking"}],
      "retryPolicy": {
        "maxAttempts": 2,
        "initialBackoff": "0.002s",
        "maxBackoff": "0.02s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]
      }
    }]
  })json");
  // Ping an idle connection every 20 s (servers accept pings >= 10 s apart) and
  // drop it if no ack within 5 s, so a dead backend is noticed between calls.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  // Reconnect quickly after a backend restarts (ms).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return args;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeBackendChannel(const std::string& target) {
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                   BackendChannelArguments());
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeBackendChannel(
    const std::string& target, const BackendSecurity& security) {
  grpc::ChannelArguments args = BackendChannelArguments();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      MakeChannelCredentials(security.tls, security.token, &args);
  if (!creds.ok()) return creds.status();
  return grpc::CreateCustomChannel(target, *creds, args);
}

}  // namespace recsys::gateway
