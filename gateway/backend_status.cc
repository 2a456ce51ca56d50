#include "gateway/backend_status.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/grpc_status.h"
#include "grpcpp/client_context.h"

namespace recsys::gateway {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One health call's state, alive until its completion ran.
struct ProbeCall {
  grpc::ClientContext ctx;
  HealthCheckRequest request;
  HealthCheckResponse response;
  std::function<void(ProbeResult)> done;
};

}  // namespace

BackendProbe::BackendProbe(std::shared_ptr<grpc::ChannelInterface> channel, std::string service)
    : stub_(grpc::health::v1::Health::NewStub(std::move(channel))), service_(std::move(service)) {}

void BackendProbe::Check(absl::Duration timeout, absl::Time deadline,
                         std::function<void(ProbeResult)> done) const {
  auto call = std::make_shared<ProbeCall>();
  call->ctx.set_deadline(absl::ToChronoTime(std::min(absl::Now() + timeout, deadline)));
  call->request.set_service(service_);
  call->done = std::move(done);
  ProbeCall* c = call.get();
  stub_->async()->Check(&c->ctx, &c->request, &c->response, [call](grpc::Status status) {
    ProbeResult r;
    if (!status.ok()) {
      r.state = v1::BACKEND_STATE_UNAVAILABLE;
      r.detail = absl::StrCat("health check failed: ", GrpcCodeName(status.error_code()), " ",
                              status.error_message());
    } else if (call->response.status() == HealthCheckResponse::SERVING) {
      r.state = v1::BACKEND_STATE_AVAILABLE;
      r.reached = true;
    } else {
      r.state = v1::BACKEND_STATE_LOADING;
      r.detail =
          absl::StrCat("health ", HealthCheckResponse::ServingStatus_Name(call->response.status()));
      r.reached = true;
    }
    call->done(std::move(r));
  });
}

void FillBackendStatus(const ProbeResult& probe, const std::string& version,
                       absl::Time last_contact, v1::BackendStatus* status) {
  status->set_state(probe.state);
  status->set_version(version);
  status->set_detail(probe.detail);
  if (last_contact != absl::InfinitePast()) {
    status->set_last_contact_unix_ms(absl::ToUnixMillis(last_contact));
  }
}

const char* BackendStateName(v1::BackendState state) {
  switch (state) {
    case v1::BACKEND_STATE_AVAILABLE:
      return "AVAILABLE";
    case v1::BACKEND_STATE_LOADING:
      return "LOADING";
    case v1::BACKEND_STATE_UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "UNSPECIFIED";
  }
}

}  // namespace recsys::gateway
