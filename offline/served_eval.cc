#include "offline/served_eval.h"

#include "absl/time/clock.h"
#include "common/log.h"
#include "grpcpp/grpcpp.h"

namespace recsys::offline {

GatewayModel::GatewayModel(const std::string& target, const Dataset& data, absl::Duration deadline)
    : data_(data),
      deadline_(deadline),
      stub_(v1::Recommender::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {}

std::vector<ScoredIndex> GatewayModel::Recommend(const Query& q, int k, const SeenSet& seen) const {
  v1::RecommendRequest req;
  req.set_user_id(data_.users.Name(q.user));
  req.set_k(k);
  req.set_as_of_s(q.as_of_s);
  req.set_ignore_stored_history(true);
  for (const Interaction& e : q.history) {
    v1::HistoryEvent* h = req.add_extra_history();
    h->set_item_id(data_.items.Name(e.item));
    h->set_timestamp_s(e.timestamp_s);
    h->set_weight(e.weight);
  }
  v1::RecommendResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  const grpc::Status status = stub_->Recommend(&ctx, req, &resp);
  ++calls_;
  std::vector<ScoredIndex> out;
  if (!status.ok()) {
    if (errors_++ < 5) {
      LOG(WARNING) << "Recommend for " << req.user_id() << " failed: " << status.error_code() << " "
                   << status.error_message();
    }
    return out;
  }
  if (resp.degraded()) ++degraded_;
  for (const v1::ScoredItem& item : resp.items()) {
    auto index = data_.items.Find(item.item_id());
    if (index && !seen.contains(*index)) out.push_back(ScoredIndex{*index, item.score()});
  }
  return out;
}

}  // namespace recsys::offline
