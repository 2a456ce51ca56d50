// Helpers shared by the ranking service tests: requests built from offline
// pools, a loopback channel, and a raw grpc.health.v1 Check (Debian ships no
// generated health client).
#pragma once

#include <grpcpp/create_channel.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bundle/model_bundle.h"
#include "common/retrieval/pool.h"
#include "common/server/candidate_proto.h"
#include "common/topk.h"
#include "recsys/v1/ranking.pb.h"

namespace recsys::ranking::testing {

// A history event by external id.
inline v1::HistoryEvent* AddHistory(v1::RankRequest* request, const std::string& id,
                                    int64_t timestamp_s, float weight = 1.0f) {
  v1::HistoryEvent* e = request->mutable_user()->add_history();
  e->set_item_id(id);
  e->set_timestamp_s(timestamp_s);
  e->set_weight(weight);
  return e;
}

// A candidate with (source, score, rank) triples; source is a SourceId.
struct SourceEntry {
  SourceId source;
  float score;
  int32_t rank;
};
inline v1::Candidate* AddCandidate(v1::RankRequest* request, const std::string& id,
                                   std::initializer_list<SourceEntry> sources = {}) {
  v1::Candidate* c = request->add_candidates();
  c->set_item_id(id);
  for (const SourceEntry& s : sources) {
    v1::SourceScore* out = c->add_sources();
    out->set_source(static_cast<v1::Source>(static_cast<int>(s.source) + 1));
    out->set_score(s.score);
    out->set_rank(s.rank);
  }
  return c;
}

// The request a client sends for an offline (history, as_of, pool): external
// ids, timestamps and weights; every present source with its score and rank.
inline v1::RankRequest RequestFor(const ModelBundle& bundle, std::span<const Interaction> history,
                                  int64_t as_of_s, std::span<const PooledCandidate> pool, int k) {
  v1::RankRequest request;
  request.set_k(k);
  request.mutable_user()->set_as_of_s(as_of_s);
  for (const Interaction& e : history) {
    AddHistory(&request, bundle.catalogue.ids.Name(e.item), e.timestamp_s, e.weight);
  }
  for (const PooledCandidate& p : pool) ToProtoCandidate(bundle, p, request.add_candidates());
  return request;
}

inline std::vector<std::string> Ids(const v1::RankResponse& response) {
  std::vector<std::string> out;
  for (const v1::ScoredItem& item : response.items()) out.push_back(item.item_id());
  return out;
}

inline std::vector<std::string> Ids(const ModelBundle& bundle, std::span<const ScoredIndex> list) {
  std::vector<std::string> out;
  for (const ScoredIndex& s : list) out.push_back(bundle.catalogue.ids.Name(s.item));
  return out;
}

inline std::shared_ptr<grpc::Channel> Loopback(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2, kRpcError = -1 };

// grpc.health.v1.Health/Check with hand-encoded messages:
// HealthCheckRequest{string service = 1}, HealthCheckResponse{enum status = 1}.
inline Health CheckHealth(grpc::Channel* channel, const std::string& service) {
  std::string request;
  if (!service.empty()) {  // names here are < 128 bytes: one-byte length
    request = absl::StrCat("\x0a", std::string(1, static_cast<char>(service.size())), service);
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::ByteBuffer response;
  static const grpc::internal::RpcMethod kCheck("/grpc.health.v1.Health/Check",
                                                grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, kCheck, &ctx, request_buffer, &response);
  if (!status.ok()) return Health::kRpcError;
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.empty()) return Health::kUnknown;
  EXPECT_EQ(bytes.size(), 2u);
  return static_cast<Health>(bytes[1]);
}

}  // namespace recsys::ranking::testing
