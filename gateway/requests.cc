#include "gateway/requests.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/server/request_limits.h"
#include "common/status.h"

namespace recsys::gateway {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

bool IdOk(const std::string& id) { return !id.empty() && id.size() <= kMaxIdBytes; }

bool WeightOk(float weight) { return std::isfinite(weight) && weight >= 0; }

// The one table of event types: name, enum value, default weight.
struct EventTypeInfo {
  const char* name;
  v1::EventType type;
  float weight;
};
constexpr EventTypeInfo kEventTypes[] = {
    {"click", v1::EVENT_CLICK, 1.0f},       {"view", v1::EVENT_VIEW, 0.5f},
    {"like", v1::EVENT_LIKE, 2.0f},         {"purchase", v1::EVENT_PURCHASE, 3.0f},
    {"dislike", v1::EVENT_DISLIKE, -1.0f},
};

const EventTypeInfo* FindEventType(v1::EventType type) {
  for (const EventTypeInfo& t : kEventTypes) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

const EventTypeInfo* FindEventName(const std::string& name) {
  for (const EventTypeInfo& t : kEventTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

// The request's type (validated): event_type, else the event name, else click.
const EventTypeInfo& TypeOf(const v1::FeedbackRequest& request) {
  if (const EventTypeInfo* t = FindEventType(request.event_type())) return *t;
  if (const EventTypeInfo* t = FindEventName(request.event())) return *t;
  return kEventTypes[0];
}

}  // namespace

absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request,
                                      const RequestLimits& limits) {
  if (!IdOk(request.user_id())) return Invalid("user_id must be 1..256 bytes");
  if (request.k() < 1 || request.k() > limits.max_k) {
    return Invalid(absl::StrCat("k must be in 1..", limits.max_k, ", got ", request.k()));
  }
  if (request.exclude_item_ids_size() > limits.max_exclusions) {
    return Invalid(absl::StrCat("at most ", limits.max_exclusions, " exclude_item_ids"));
  }
  for (int i = 0; i < request.exclude_item_ids_size(); ++i) {
    if (!IdOk(request.exclude_item_ids(i))) {
      return Invalid(absl::StrCat("exclude_item_ids[", i, "] must be 1..256 bytes"));
    }
  }
  if (request.extra_history_size() > limits.max_history) {
    return Invalid(absl::StrCat("at most ", limits.max_history, " extra_history events"));
  }
  for (int i = 0; i < request.extra_history_size(); ++i) {
    const v1::HistoryEvent& e = request.extra_history(i);
    if (!IdOk(e.item_id())) return Invalid("extra_history item_id must be 1..256 bytes");
    if (!WeightOk(e.weight())) return Invalid("extra_history weight must be finite and >= 0");
    RETURN_IF_ERROR(ValidateTimestamp(e.timestamp_s(),
                                      absl::StrCat("extra_history[", i, "].timestamp_s")));
  }
  RETURN_IF_ERROR(ValidateTimestamp(request.as_of_s(), "as_of_s"));
  return ValidateCategoryHints(request.context_categories(), "context_categories");
}

absl::Status ValidateFeedbackRequest(const v1::FeedbackRequest& request,
                                     const RequestLimits& limits, absl::Time now) {
  if (!IdOk(request.user_id())) return Invalid("user_id must be 1..256 bytes");
  if (!IdOk(request.item_id())) return Invalid("item_id must be 1..256 bytes");
  if (request.event().size() > kMaxEventBytes) return Invalid("event must be at most 64 bytes");
  const EventTypeInfo* by_name = FindEventName(request.event());
  if (!request.event().empty() && by_name == nullptr) {
    return Invalid(absl::StrCat("unknown event '", request.event(), "'; accepted: ",
                                AcceptedEventNames()));
  }
  if (request.event_type() != v1::EVENT_TYPE_UNSPECIFIED) {
    const EventTypeInfo* by_type = FindEventType(request.event_type());
    if (by_type == nullptr) {
      return Invalid(absl::StrCat("unknown event_type ", request.event_type(), "; accepted: ",
                                  AcceptedEventNames()));
    }
    if (by_name != nullptr && by_name != by_type) {
      return Invalid(absl::StrCat("event '", request.event(), "' contradicts event_type ",
                                  v1::EventType_Name(request.event_type())));
    }
  }
  if (!WeightOk(request.weight())) return Invalid("weight must be finite and >= 0");
  if (request.idempotency_key().size() > kMaxIdempotencyKeyBytes) {
    return Invalid("idempotency_key must be at most 128 bytes");
  }
  if (request.timestamp_s() < 0) return Invalid("timestamp_s must be >= 0");
  // Compared in absl::Time: no overflow at INT64_MAX.
  if (absl::FromUnixSeconds(request.timestamp_s()) > now + limits.max_feedback_future) {
    return Invalid(absl::StrCat("timestamp_s ", request.timestamp_s(), " is more than ",
                                absl::FormatDuration(limits.max_feedback_future),
                                " ahead of the server clock (", absl::ToUnixSeconds(now), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckFeedbackItemKnown(const ModelBundle& bundle,
                                    const v1::FeedbackRequest& request) {
  if (bundle.catalogue.ids.Find(request.item_id())) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("unknown item_id '", request.item_id(), "'"));
}

UserEvent FeedbackEvent(const v1::FeedbackRequest& request, int64_t now_s) {
  UserEvent event;
  event.item_id = request.item_id();
  event.timestamp_s = request.timestamp_s() > 0 ? request.timestamp_s() : now_s;
  const EventTypeInfo& type = TypeOf(request);
  event.weight = type.weight < 0 ? type.weight
                 : request.weight() > 0 ? request.weight()
                                        : type.weight;
  event.event = type.name;
  return event;
}

std::string AcceptedEventNames() {
  std::string out;
  for (const EventTypeInfo& t : kEventTypes) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", t.name);
  }
  return out;
}

float EventTypeWeight(v1::EventType type) {
  const EventTypeInfo* t = FindEventType(type);
  return t == nullptr ? 0.0f : t->weight;
}

absl::Status ValidateGetHistoryRequest(const v1::GetHistoryRequest& request) {
  if (!IdOk(request.user_id())) return Invalid("user_id must be 1..256 bytes");
  if (request.max_events() < 0 || request.max_events() > kMaxHistoryEvents) {
    return Invalid("max_events must be in 0..10000");
  }
  return absl::OkStatus();
}

absl::Status ValidateDeleteUserRequest(const v1::DeleteUserRequest& request) {
  if (!IdOk(request.user_id())) return Invalid("user_id must be 1..256 bytes");
  return absl::OkStatus();
}

size_t HistoryLimit(const v1::GetHistoryRequest& request) {
  return request.max_events() == 0 ? static_cast<size_t>(kDefaultHistoryEvents)
                                   : static_cast<size_t>(request.max_events());
}

}  // namespace recsys::gateway
