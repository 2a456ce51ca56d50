// Fuzzes the gateway's request edge (gateway/requests.h): the first input
// byte picks the recsys.v1.Recommender request (Recommend, Feedback,
// GetHistory, DeleteUser), the rest is its wire bytes. A request that parses
// is validated; one that passes must keep the contract the handlers rely on
// (id lengths, counts, finite non-negative weights, the stored Feedback
// event, the GetHistory limit) and give the same verdict after a wire round
// trip.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "fuzz/fuzz_support.h"
#include "gateway/cache_key.h"
#include "gateway/requests.h"
#include "recsys/v1/recommender.pb.h"

namespace {

namespace gw = recsys::gateway;
namespace v1 = recsys::v1;
using recsys::fuzz::Check;

bool IdOk(const std::string& id) { return !id.empty() && id.size() <= gw::kMaxIdBytes; }

template <typename Request, typename ValidateFn>
void SameVerdictAfterRoundTrip(const Request& request, const absl::Status& verdict,
                               ValidateFn validate) {
  Request again;
  Check(again.ParseFromString(request.SerializeAsString()), "a parsed request re-parses");
  Check(validate(again).ok() == verdict.ok(), "the verdict survives a wire round trip");
}

void Recommend(const v1::RecommendRequest& r) {
  const gw::RequestLimits limits;
  auto validate = [&limits](const v1::RecommendRequest& q) {
    return gw::ValidateRecommendRequest(q, limits);
  };
  const absl::Status s = validate(r);
  SameVerdictAfterRoundTrip(r, s, validate);
  if (!s.ok()) {
    Check(absl::IsInvalidArgument(s), "a refused Recommend is INVALID_ARGUMENT");
    return;
  }
  Check(IdOk(r.user_id()), "valid Recommend: user_id length");
  Check(r.k() >= 1 && r.k() <= limits.max_k, "valid Recommend: k range");
  Check(r.extra_history_size() <= limits.max_history, "valid Recommend: history count");
  Check(r.exclude_item_ids_size() <= limits.max_exclusions, "valid Recommend: exclusions");
  Check(r.as_of_s() >= 0, "valid Recommend: as_of_s");
  v1::UserContext user;
  user.set_user_id(r.user_id());
  user.set_as_of_s(r.as_of_s());
  for (const v1::HistoryEvent& e : r.extra_history()) {
    Check(IdOk(e.item_id()), "valid Recommend: history item id");
    Check(std::isfinite(e.weight()) && e.weight() >= 0, "valid Recommend: history weight");
    *user.add_history() = e;
  }
  // The cache key is a pure function of the request: the same twice.
  Check(gw::RecommendCacheKey(r, user, "v") == gw::RecommendCacheKey(r, user, "v"),
        "the cache key is deterministic");
}

void Feedback(const v1::FeedbackRequest& r) {
  const absl::Status s = gw::ValidateFeedbackRequest(r);
  SameVerdictAfterRoundTrip(r, s, [](const v1::FeedbackRequest& q) {
    return gw::ValidateFeedbackRequest(q);
  });
  if (!s.ok()) {
    Check(absl::IsInvalidArgument(s), "a refused Feedback is INVALID_ARGUMENT");
    return;
  }
  Check(IdOk(r.user_id()) && IdOk(r.item_id()), "valid Feedback: id lengths");
  const gw::UserEvent e = gw::FeedbackEvent(r, /*now_s=*/1700000000);
  Check(!e.event.empty() && e.event.size() <= gw::kMaxEventBytes, "stored event name");
  Check(std::isfinite(e.weight), "stored weight is finite");
  Check(e.timestamp_s >= 0, "stored timestamp is not negative");
  Check(e.item_id == r.item_id(), "stored item id");
}

void GetHistory(const v1::GetHistoryRequest& r) {
  const absl::Status s = gw::ValidateGetHistoryRequest(r);
  SameVerdictAfterRoundTrip(r, s, [](const v1::GetHistoryRequest& q) {
    return gw::ValidateGetHistoryRequest(q);
  });
  if (!s.ok()) return;
  Check(IdOk(r.user_id()), "valid GetHistory: user_id length");
  const size_t limit = gw::HistoryLimit(r);
  Check(limit >= 1 && limit <= static_cast<size_t>(gw::kMaxHistoryEvents), "history limit");
}

void DeleteUser(const v1::DeleteUserRequest& r) {
  const absl::Status s = gw::ValidateDeleteUserRequest(r);
  Check(s.ok() == IdOk(r.user_id()), "DeleteUser accepts exactly the valid ids");
}

template <typename Request>
bool Parse(const uint8_t* data, size_t size, Request* r) {
  return r->ParseFromArray(data, static_cast<int>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::QuietProtobufLogs();
  if (size == 0) return 0;
  const uint8_t which = data[0] % 4;
  ++data;
  --size;
  switch (which) {
    case 0: {
      v1::RecommendRequest r;
      if (Parse(data, size, &r)) Recommend(r);
      break;
    }
    case 1: {
      v1::FeedbackRequest r;
      if (Parse(data, size, &r)) Feedback(r);
      break;
    }
    case 2: {
      v1::GetHistoryRequest r;
      if (Parse(data, size, &r)) GetHistory(r);
      break;
    }
    case 3: {
      v1::DeleteUserRequest r;
      if (Parse(data, size, &r)) DeleteUser(r);
      break;
    }
  }
  return 0;
}
