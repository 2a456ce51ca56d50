// Test helpers of the retrieval service's integration tests: a real
// RetrievalServer on a loopback port (port 0), a real gRPC channel, and a toy
// bundle trained and promoted into a temp registry (header-only: only
// *_test.cc files are compiled into the test binary).
#pragma once

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "recsys/v1/retrieval.grpc.pb.h"
#include "retrieval_service/service.h"
#include "tests/retrieval_service/toy_fixture.h"

namespace recsys::retrieval::testing {

// One server with its metrics, a channel and stubs. Destroyed stubs first, metrics last.
struct Running {
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<RetrievalServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Retrieval::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

// Starts a server on the registry without a polling thread; `poll` loads the
// production bundle synchronously (PollOnce) before returning.
inline Running StartServer(const ToyRegistry& toy, bool poll = true,
                           RetrievalServiceOptions service = {}) {
  Running r;
  r.metrics = ServerMetrics::CreateWithoutExposer();
  RetrievalServerOptions o;
  o.server.address = "127.0.0.1:0";
  o.bundle.registry_root = toy.registry_root;
  o.bundle.model_name = toy.name;
  o.bundle.poll_interval = absl::Hours(1);  // tests poll by hand
  o.service = std::move(service);
  o.start_polling = false;
  absl::StatusOr<std::unique_ptr<RetrievalServer>> server =
      RetrievalServer::Start(std::move(o), r.metrics.get());
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return r;
  r.server = *std::move(server);
  if (poll) {
    absl::Status s = r.server->holder().PollOnce();
    EXPECT_TRUE(s.ok()) << s;
  }
  r.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", r.server->port()),
                                  grpc::InsecureChannelCredentials());
  r.stub = v1::Retrieval::NewStub(r.channel);
  r.health = grpc::health::v1::Health::NewStub(r.channel);
  return r;
}

inline void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
}

inline grpc::Status Retrieve(Running& r, const v1::RetrieveRequest& request,
                             v1::RetrieveResponse* response) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  return r.stub->Retrieve(&ctx, request, response);
}

inline grpc::health::v1::HealthCheckResponse::ServingStatus Health(Running& r,
                                                                   const std::string& service) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = r.health->Check(&ctx, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response.status();
}

// The request for a toy user's leave-last-out test case: every event before the
// last one, as of the last one's time.
inline v1::RetrieveRequest RequestFor(const std::vector<ToyEvent>& events) {
  v1::RetrieveRequest r;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    v1::HistoryEvent* e = r.mutable_user()->add_history();
    e->set_item_id(events[i].item_id);
    e->set_timestamp_s(events[i].timestamp_s);
    e->set_weight(1.0f);
  }
  r.mutable_user()->set_as_of_s(events.back().timestamp_s);
  return r;
}

// The value of the series `name{...}` whose labels include every `k="v"` in
// `labels`; -1 if absent.
inline double MetricValue(const std::string& text, const std::string& name,
                          const std::vector<std::string>& labels = {}) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;
    bool all = true;
    for (const std::string& l : labels) all = all && absl::StrContains(rest, l);
    if (!all) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) return v;
  }
  return -1;
}

class RetrievalServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<ToyRegistry> toy = MakeToyRegistry("retrieval_service");
    ASSERT_TRUE(toy.ok()) << toy.status();
    toy_ = new ToyRegistry(*toy);
  }
  static void TearDownTestSuite() {
    if (toy_ != nullptr) std::filesystem::remove_all(toy_->root);
    delete toy_;
    toy_ = nullptr;
  }
  static inline ToyRegistry* toy_ = nullptr;
};

}  // namespace recsys::retrieval::testing
