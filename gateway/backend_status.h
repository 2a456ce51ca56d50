// The live state of the gateway's two backends for GetModelInfo.
//
// Why a health check per GetModelInfo instead of only the outcome of recent
// Recommend calls: the calls say nothing when there is no traffic (an idle
// gateway would report a stopped backend as serving for ever), and a failed
// call does not tell "down" from "loading". The check is the one Kubernetes
// readiness uses (grpc.health.v1 Check of the backend's service name), so the
// gateway and the orchestrator agree; it is cheap and GetModelInfo is an
// operator call, not a hot path. The version comes from the calls
// (LatestBackendVersions), since health carries none.
//
//   SERVING              → BACKEND_STATE_AVAILABLE
//   NOT_SERVING, UNKNOWN → BACKEND_STATE_LOADING (reachable, no bundle yet or draining)
//   an error / no answer → BACKEND_STATE_UNAVAILABLE (detail: the status)
//
// Threading: Check may be called concurrently; it never blocks (async stub).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {

// How long a GetModelInfo waits for a backend's health answer.
inline constexpr absl::Duration kBackendProbeTimeout = absl::Milliseconds(500);

// The outcome of one health check.
struct ProbeResult {
  v1::BackendState state = v1::BACKEND_STATE_UNSPECIFIED;
  std::string detail;    // why not AVAILABLE ("" when it is)
  bool reached = false;  // the backend answered (SERVING or not)
};

class BackendProbe {
 public:
  // `channel` leads to the backend; `service` is its health service name
  // ("recsys.v1.Retrieval", "recsys.v1.Ranking").
  BackendProbe(std::shared_ptr<grpc::ChannelInterface> channel, std::string service);

  // Checks health with deadline now + `timeout` (earlier if `deadline` is);
  // `done` runs once, on a gRPC thread (or the caller's if the call cannot start).
  void Check(absl::Duration timeout, absl::Time deadline,
             std::function<void(ProbeResult)> done) const;

 private:
  const std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  const std::string service_;
};

// Fills `status` from a probe and what the calls recorded (`version`,
// `last_contact`; InfinitePast = never).
void FillBackendStatus(const ProbeResult& probe, const std::string& version,
                       absl::Time last_contact, v1::BackendStatus* status);

// "AVAILABLE", "LOADING", "UNAVAILABLE" ("UNSPECIFIED" otherwise).
const char* BackendStateName(v1::BackendState state);

}  // namespace recsys::gateway
