// Sharded retrieval, the gateway's side: Retrieve fanned out to N retrieval
// shards (recsys-retrieval --shard i/N) in parallel, and their answers merged
// into the pool one unsharded service would return.
//
// The merge (MergeShardAnswers) is exact: each shard answers with
// RetrieveRequest.shard_lists, i.e. every source's whole list over its own
// items (see common/bundle/catalogue_shard.h for why the union of those lists
// contains the unsharded list); per source the lists are merged by score,
// equal scores by catalogue index (RanksBefore, the order every source uses),
// cut to the source's quota, and pooled with the library's one pooling rule
// (retrieval::PoolCandidates). Candidate signals come from the shard that
// listed the item; the signals context is re-signed with the gateway's key
// (the MAC covers the merged list), or left unsigned without one.
//
// Degradation, never failure while one shard answers:
//   - a shard that fails or misses the retrieval deadline is left out: the
//     pool is built from the rest, and the answer says which shard and why
//     (note "retrieval shard i/N unavailable: ..."; degraded reason
//     "retrieval_shard:<CODE>");
//   - a shard answering for another shard number than its position in the
//     gateway's list (misconfiguration), or with another model version than
//     the majority (a rollout in progress), is left out the same way;
//   - no shard usable: the call fails with the first shard's status, and the
//     ladder falls back to trending as for an unsharded retrieval failure.
//
// Threading: Retrieve may be called concurrently; `done` runs once, on a gRPC
// completion thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "recsys/v1/retrieval.grpc.pb.h"

namespace recsys::gateway {

// One shard's reply to a shard_lists request.
struct ShardAnswer {
  grpc::Status status;
  const v1::RetrieveResponse* response = nullptr;  // read only when status is OK
};

struct ShardMergeOutcome {
  // Shards left out (failed, late, misconfigured, other version).
  int left_out = 0;
  // One note per shard left out, for the answer.
  std::vector<std::string> notes;
  // "retrieval_shard:<CODE>" of the first shard left out ("" when none).
  std::string degraded_reason;
};

// Merges `answers` (answers[i] from the target configured as shard i of
// answers.size()) into `out`. Returns OK with the outcome when at least one
// shard is usable; else the first shard's error (or FAILED_PRECONDITION when
// every shard answered but none is usable).
grpc::Status MergeShardAnswers(absl::Span<const ShardAnswer> answers,
                               const std::string& signals_key, v1::RetrieveResponse* out,
                               ShardMergeOutcome* outcome);

class ShardedRetrieval {
 public:
  using ContextFactory = std::function<std::unique_ptr<grpc::ClientContext>()>;
  using Done = std::function<void(grpc::Status, ShardMergeOutcome)>;

  // shards[i] leads to the service started with --shard i/shards.size().
  // `signals_key`: the key retrieval and ranking share (empty: merged signals
  // go unsigned).
  ShardedRetrieval(std::vector<std::shared_ptr<grpc::ChannelInterface>> shards,
                   std::string signals_key);
  ~ShardedRetrieval();

  int count() const { return static_cast<int>(stubs_.size()); }

  // Sends `request` (shard_lists set on a copy) to every shard at once, each
  // call with a context from `make_context` and `deadline`, and merges into
  // `response` once all have answered. `response` must stay valid until
  // `done` runs.
  void Retrieve(const v1::RetrieveRequest& request, v1::RetrieveResponse* response,
                absl::Time deadline, const ContextFactory& make_context, Done done) const;

 private:
  std::vector<std::unique_ptr<v1::Retrieval::Stub>> stubs_;
  const std::string signals_key_;
};

}  // namespace recsys::gateway
