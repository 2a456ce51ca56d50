// The served evaluation: the same leave-last-out protocol, with every list
// coming from a running gateway over gRPC. Each case sends the user's history
// (ignore_stored_history = true) and as_of = the held-out event's time, so the
// served answer must equal the trainer's two-stage list for the same bundle.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/data/dataset.h"
#include "offline/evaluator.h"
#include "recsys/v1/recommender.grpc.pb.h"

namespace recsys::offline {

class GatewayModel : public EvalModel {
 public:
  struct Counts {
    int64_t calls = 0, degraded = 0, errors = 0;
  };
  // `data` supplies the external ids (must outlive the model).
  GatewayModel(const std::string& target, const Dataset& data, absl::Duration deadline);
  std::string name() const override { return "served"; }
  std::vector<ScoredIndex> Recommend(const Query& q, int k, const SeenSet& seen) const override;
  Counts counts() const { return Counts{calls_.load(), degraded_.load(), errors_.load()}; }

 private:
  const Dataset& data_;
  const absl::Duration deadline_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  mutable std::atomic<int64_t> calls_{0}, degraded_{0}, errors_{0};
};

}  // namespace recsys::offline
