// The edge between recsys.v1.Recommender requests and the gateway: validation
// (every limit with a message naming the field) and the stored form of a
// Feedback event. Errors are absl::Status; handlers convert them with
// ToGrpcStatus.
//
// Threading: free functions over immutable inputs; safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "gateway/user_store.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {

struct RequestLimits {
  // Largest k of Recommend.
  int max_k = 100;
  // Most extra_history events of one Recommend; also the most recent stored
  // events sent downstream (see RecommendLadderOptions). Real users have
  // thousands of events (MovieLens' heaviest: ~2,700), so the default keeps them whole.
  int max_history = 5000;
  // Most exclude_item_ids of one Recommend.
  int max_exclusions = 10000;
  // Largest request, bytes (10,000 exclusions plus 5,000 extra events of
  // 16-byte ids take ~0.36 MB). Recommend's counts and sizes are checked on its
  // wire bytes before it is parsed; the other methods are small by
  // construction, but protobuf keeps unknown fields, so their worst case costs
  // ~10x its bytes parsed: 16 at once stay under 100 MB at this size.
  int64_t max_request_bytes = 512 << 10;
  // Furthest a Feedback timestamp_s may lie ahead of the server's clock (a
  // stored timestamp years ahead would distort every time-decayed feature of
  // that user until then). Generous enough for client clock skew.
  absl::Duration max_feedback_future = absl::Hours(24);
};

// Longest user or item id, bytes.
inline constexpr size_t kMaxIdBytes = 256;
// Longest Feedback event type, bytes.
inline constexpr size_t kMaxEventBytes = 64;
// Longest Feedback idempotency key, bytes.
inline constexpr size_t kMaxIdempotencyKeyBytes = 128;
// Most events one GetHistory may ask for, and the count when it asks for 0.
inline constexpr int kMaxHistoryEvents = 10000;
inline constexpr int kDefaultHistoryEvents = 100;

// InvalidArgument, else OK. Checks: user_id 1..kMaxIdBytes; k in 1..max_k;
// exclusions (count, each id 1..kMaxIdBytes) and extra_history counts; each
// extra event's item id (1..kMaxIdBytes), weight (finite, >= 0) and timestamp
// (0..kMaxTimestampS); as_of_s in 0..kMaxTimestampS; context_categories
// (common/server/request_limits.h: count and length).
absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request,
                                      const RequestLimits& limits);

// InvalidArgument, else OK. Checks: user_id and item_id 1..kMaxIdBytes; event
// empty or an accepted name (AcceptedEventNames), event_type a known value
// agreeing with a non-empty event; weight finite and >= 0; idempotency_key at
// most kMaxIdempotencyKeyBytes; timestamp_s >= 0 and at most
// limits.max_feedback_future after `now`.
absl::Status ValidateFeedbackRequest(const v1::FeedbackRequest& request,
                                     const RequestLimits& limits = {},
                                     absl::Time now = absl::Now());

// NotFound when `bundle`'s catalogue does not know the item.
absl::Status CheckFeedbackItemKnown(const ModelBundle& bundle, const v1::FeedbackRequest& request);

// The event a validated Feedback stores: timestamp 0 → `now_s` (Unix seconds);
// event = the type's name (event_type, else event, else "click"); weight = the
// request's when > 0, else the type's default (click 1, view 0.5, like 2,
// purchase 3); a negative type (dislike) always stores its weight, -1.
UserEvent FeedbackEvent(const v1::FeedbackRequest& request, int64_t now_s);

// "click, view, like, purchase, dislike": the accepted Feedback event names.
std::string AcceptedEventNames();

// The default weight of `type` (0 for EVENT_TYPE_UNSPECIFIED or unknown).
float EventTypeWeight(v1::EventType type);

// InvalidArgument, else OK. Checks: user_id 1..kMaxIdBytes; max_events in
// 0..kMaxHistoryEvents.
absl::Status ValidateGetHistoryRequest(const v1::GetHistoryRequest& request);

// InvalidArgument, else OK. Checks: user_id 1..kMaxIdBytes.
absl::Status ValidateDeleteUserRequest(const v1::DeleteUserRequest& request);

// The events a validated GetHistory returns at most (0 asks for the default).
size_t HistoryLimit(const v1::GetHistoryRequest& request);

}  // namespace recsys::gateway
