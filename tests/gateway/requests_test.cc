#include "gateway/requests.h"

#include <limits>

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/server/grpc_status.h"

namespace recsys::gateway {
namespace {

v1::RecommendRequest GoodRecommend() {
  v1::RecommendRequest r;
  r.set_user_id("u1");
  r.set_k(10);
  return r;
}

// What a client sees for `s`: the gRPC code and message.
void ExpectAtTheEdge(const absl::Status& s, grpc::StatusCode code, const char* message) {
  const grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), code) << s;
  EXPECT_EQ(g.error_message(), message);
}

void ExpectInvalid(const absl::Status& s, const char* message) {
  ExpectAtTheEdge(s, grpc::StatusCode::INVALID_ARGUMENT, message);
}

// A well-formed Recommend passes; each limit is INVALID_ARGUMENT naming the field.
TEST(RequestsTest, RecommendLimits) {
  const RequestLimits limits{/*max_k=*/100, /*max_history=*/2, /*max_exclusions=*/1};
  EXPECT_TRUE(ValidateRecommendRequest(GoodRecommend(), limits).ok());

  v1::RecommendRequest r = GoodRecommend();
  r.set_user_id("");
  ExpectInvalid(ValidateRecommendRequest(r, limits), "user_id must be 1..256 bytes");
  r.set_user_id(std::string(257, 'u'));
  ExpectInvalid(ValidateRecommendRequest(r, limits), "user_id must be 1..256 bytes");
  r.set_user_id(std::string(256, 'u'));
  EXPECT_TRUE(ValidateRecommendRequest(r, limits).ok());

  r = GoodRecommend();
  r.set_k(0);
  ExpectInvalid(ValidateRecommendRequest(r, limits), "k must be in 1..100, got 0");
  r.set_k(101);
  ExpectInvalid(ValidateRecommendRequest(r, limits), "k must be in 1..100, got 101");

  r = GoodRecommend();
  const std::vector<std::string> two = {"a", "b"};
  r.mutable_exclude_item_ids()->Add(two.begin(), two.end());
  ExpectInvalid(ValidateRecommendRequest(r, limits), "at most 1 exclude_item_ids");

  r = GoodRecommend();
  for (int i = 0; i < 3; ++i) r.add_extra_history()->set_item_id("m1");
  ExpectInvalid(ValidateRecommendRequest(r, limits), "at most 2 extra_history events");

  r = GoodRecommend();
  r.add_extra_history()->set_item_id("");
  ExpectInvalid(ValidateRecommendRequest(r, limits), "extra_history item_id must be 1..256 bytes");
  r = GoodRecommend();
  v1::HistoryEvent* e = r.add_extra_history();
  e->set_item_id("m1");
  e->set_weight(std::nanf(""));
  ExpectInvalid(ValidateRecommendRequest(r, limits), "extra_history weight must be finite and >= 0");
  e->set_weight(-1);
  ExpectInvalid(ValidateRecommendRequest(r, limits), "extra_history weight must be finite and >= 0");

  r = GoodRecommend();
  r.set_as_of_s(-1);
  ExpectInvalid(ValidateRecommendRequest(r, limits),
                "as_of_s must be in 0..16725225600 (Unix seconds), got -1");
}

// Inputs that used to pass validation and come back as a degraded OK answer
// (inflating the degraded-answer metrics) are INVALID_ARGUMENT.
TEST(RequestsTest, RecommendRefusesWhatUsedToDegrade) {
  RequestLimits limits;
  v1::RecommendRequest r = GoodRecommend();
  r.add_extra_history()->set_item_id("m1");
  r.mutable_extra_history(0)->set_timestamp_s(-5);
  ExpectInvalid(ValidateRecommendRequest(r, limits),
                "extra_history[0].timestamp_s must be in 0..16725225600 (Unix seconds), got -5");
  r = GoodRecommend();
  r.add_exclude_item_ids(std::string(257, 'x'));
  ExpectInvalid(ValidateRecommendRequest(r, limits), "exclude_item_ids[0] must be 1..256 bytes");
  r = GoodRecommend();
  r.add_exclude_item_ids("");
  ExpectInvalid(ValidateRecommendRequest(r, limits), "exclude_item_ids[0] must be 1..256 bytes");
  r = GoodRecommend();
  for (int i = 0; i < 65; ++i) r.add_context_categories("Drama");
  ExpectInvalid(ValidateRecommendRequest(r, limits),
                "context_categories has 65 category hints (at most 64)");
  r = GoodRecommend();
  r.add_context_categories("");
  ExpectInvalid(ValidateRecommendRequest(r, limits),
                "context_categories[0] must be 1..128 bytes, got 0");
  r = GoodRecommend();
  r.set_as_of_s(int64_t{1} << 62);
  EXPECT_FALSE(ValidateRecommendRequest(r, limits).ok());
}

// Feedback: ids, event size, weight, idempotency key and time are checked;
// defaults fill the stored event.
TEST(RequestsTest, FeedbackValidationAndDefaults) {
  v1::FeedbackRequest r;
  r.set_user_id("u1");
  r.set_item_id("m1");
  EXPECT_TRUE(ValidateFeedbackRequest(r).ok());
  UserEvent event = FeedbackEvent(r, /*now_s=*/1234);
  EXPECT_EQ(event.item_id, "m1");
  EXPECT_EQ(event.timestamp_s, 1234);
  EXPECT_EQ(event.weight, 1.0f);
  EXPECT_EQ(event.event, "click");
  r.set_timestamp_s(99);
  r.set_weight(2.5f);
  r.set_event("like");
  event = FeedbackEvent(r, 1234);
  EXPECT_EQ(event.timestamp_s, 99);
  EXPECT_EQ(event.weight, 2.5f);
  EXPECT_EQ(event.event, "like");

  v1::FeedbackRequest bad = r;
  bad.set_user_id("");
  ExpectInvalid(ValidateFeedbackRequest(bad), "user_id must be 1..256 bytes");
  bad = r;
  bad.set_item_id(std::string(257, 'i'));
  ExpectInvalid(ValidateFeedbackRequest(bad), "item_id must be 1..256 bytes");
  bad = r;
  bad.set_event(std::string(65, 'e'));
  ExpectInvalid(ValidateFeedbackRequest(bad), "event must be at most 64 bytes");
  bad = r;
  bad.set_weight(-0.5f);
  ExpectInvalid(ValidateFeedbackRequest(bad), "weight must be finite and >= 0");
  bad = r;
  bad.set_timestamp_s(-1);
  ExpectInvalid(ValidateFeedbackRequest(bad), "timestamp_s must be >= 0");
  bad = r;
  bad.set_idempotency_key(std::string(128, 'k'));
  EXPECT_TRUE(ValidateFeedbackRequest(bad).ok());
  bad.set_idempotency_key(std::string(129, 'k'));
  ExpectInvalid(ValidateFeedbackRequest(bad), "idempotency_key must be at most 128 bytes");

  ModelBundle bundle;
  bundle.catalogue.ids.GetOrAdd("m1");
  EXPECT_TRUE(CheckFeedbackItemKnown(bundle, r).ok());
  r.set_item_id("m2");
  ExpectAtTheEdge(CheckFeedbackItemKnown(bundle, r), grpc::StatusCode::NOT_FOUND,
                  "unknown item_id 'm2'");

  // Timestamps far ahead of the server clock are refused (INT64_MAX included);
  // within the tolerance they pass.
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  RequestLimits limits;
  limits.max_feedback_future = absl::Hours(24);
  bad = r;
  bad.set_timestamp_s(std::numeric_limits<int64_t>::max());
  ExpectInvalid(ValidateFeedbackRequest(bad, limits, now),
                "timestamp_s 9223372036854775807 is more than 24h ahead of the server clock "
                "(1700000000)");
  bad.set_timestamp_s(1'700'000'000 + 86'400 + 1);
  ExpectInvalid(ValidateFeedbackRequest(bad, limits, now),
                "timestamp_s 1700086401 is more than 24h ahead of the server clock (1700000000)");
  bad.set_timestamp_s(1'700'000'000 + 86'400);
  EXPECT_TRUE(ValidateFeedbackRequest(bad, limits, now).ok());
  bad.set_timestamp_s(std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(ValidateFeedbackRequest(bad).ok());  // the default clock and tolerance
}

// Event types: names and enum values agree, each has its weight (dislike
// always -1), unknown names are refused naming the accepted ones.
TEST(RequestsTest, FeedbackEventTypes) {
  v1::FeedbackRequest r;
  r.set_user_id("u1");
  r.set_item_id("m1");
  EXPECT_EQ(AcceptedEventNames(), "click, view, like, purchase, dislike");
  const struct {
    v1::EventType type;
    const char* name;
    float weight;
  } kCases[] = {{v1::EVENT_CLICK, "click", 1.0f},
                {v1::EVENT_VIEW, "view", 0.5f},
                {v1::EVENT_LIKE, "like", 2.0f},
                {v1::EVENT_PURCHASE, "purchase", 3.0f},
                {v1::EVENT_DISLIKE, "dislike", -1.0f}};
  for (const auto& c : kCases) {
    v1::FeedbackRequest by_type = r;
    by_type.set_event_type(c.type);
    EXPECT_TRUE(ValidateFeedbackRequest(by_type).ok()) << c.name;
    EXPECT_EQ(FeedbackEvent(by_type, 1).event, c.name);
    EXPECT_EQ(FeedbackEvent(by_type, 1).weight, c.weight);
    EXPECT_EQ(EventTypeWeight(c.type), c.weight);
    v1::FeedbackRequest by_name = r;
    by_name.set_event(c.name);
    EXPECT_TRUE(ValidateFeedbackRequest(by_name).ok()) << c.name;
    EXPECT_EQ(FeedbackEvent(by_name, 1).event, c.name);
    EXPECT_EQ(FeedbackEvent(by_name, 1).weight, c.weight);
  }
  v1::FeedbackRequest dislike = r;
  dislike.set_event_type(v1::EVENT_DISLIKE);
  dislike.set_weight(4.0f);
  EXPECT_EQ(FeedbackEvent(dislike, 1).weight, -1.0f);

  v1::FeedbackRequest bad = r;
  bad.set_event("bogus");
  ExpectInvalid(ValidateFeedbackRequest(bad),
                "unknown event 'bogus'; accepted: click, view, like, purchase, dislike");
  bad = r;
  bad.set_event_type(static_cast<v1::EventType>(42));
  ExpectInvalid(ValidateFeedbackRequest(bad),
                "unknown event_type 42; accepted: click, view, like, purchase, dislike");
  bad = r;
  bad.set_event("like");
  bad.set_event_type(v1::EVENT_DISLIKE);
  ExpectInvalid(ValidateFeedbackRequest(bad), "event 'like' contradicts event_type EVENT_DISLIKE");
}

// GetHistory: id and max_events range; 0 asks for the default count.
TEST(RequestsTest, GetHistoryValidationAndLimit) {
  v1::GetHistoryRequest r;
  r.set_user_id("u1");
  EXPECT_TRUE(ValidateGetHistoryRequest(r).ok());
  EXPECT_EQ(HistoryLimit(r), 100u);
  r.set_max_events(10000);
  EXPECT_TRUE(ValidateGetHistoryRequest(r).ok());
  EXPECT_EQ(HistoryLimit(r), 10000u);
  r.set_max_events(10001);
  ExpectInvalid(ValidateGetHistoryRequest(r), "max_events must be in 0..10000");
  r.set_max_events(-1);
  ExpectInvalid(ValidateGetHistoryRequest(r), "max_events must be in 0..10000");
  r.set_max_events(5);
  r.set_user_id("");
  ExpectInvalid(ValidateGetHistoryRequest(r), "user_id must be 1..256 bytes");
}

}  // namespace
}  // namespace recsys::gateway
