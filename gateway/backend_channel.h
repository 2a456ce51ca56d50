// The gateway's channels to its backends (recsys.v1.Retrieval, recsys.v1.Ranking).
#pragma once

#include <memory>
#include <string>

#include "grpcpp/channel.h"

namespace recsys::gateway {

// A channel to a backend: round_robin over every address a dns:/// target
// resolves to (Kubernetes headless services), keepalive, and retries only for
// UNAVAILABLE (all backend methods are idempotent reads). One per backend,
// shared by every call.
std::shared_ptr<grpc::Channel> MakeBackendChannel(const std::string& target);

}  // namespace recsys::gateway
