// The gateway's channels to its backends (recsys.v1.Retrieval, recsys.v1.Ranking).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/server/tls_credentials.h"
#include "grpcpp/channel.h"

namespace recsys::gateway {

// A channel to a backend: round_robin over every address a dns:/// target
// resolves to (Kubernetes headless services), keepalive, and retries only for
// UNAVAILABLE (all backend methods are idempotent reads). One per backend,
// shared by every call.
std::shared_ptr<grpc::Channel> MakeBackendChannel(const std::string& target);

// How the gateway reaches its backends: TLS with the backends' CA, the
// gateway's client certificate when they require one (mTLS), and a token when
// they check tokens (--auth_tokens on the backend). Empty = plaintext.
struct BackendSecurity {
  TlsClientFiles tls;
  std::string token;
};

// As above, over `security`. The errors of MakeChannelCredentials (a file
// that cannot be read).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeBackendChannel(
    const std::string& target, const BackendSecurity& security);

}  // namespace recsys::gateway
