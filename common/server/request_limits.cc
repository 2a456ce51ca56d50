#include "common/server/request_limits.h"

#include "absl/strings/str_cat.h"

namespace recsys {

absl::Status ValidateCategoryHints(const google::protobuf::RepeatedPtrField<std::string>& hints,
                                   absl::string_view field) {
  if (hints.size() > kMaxCategoryHints) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has ", hints.size(),
                                                   " category hints (at most ",
                                                   kMaxCategoryHints, ")"));
  }
  for (int i = 0; i < hints.size(); ++i) {
    if (hints[i].empty() || hints[i].size() > kMaxCategoryBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, "[", i, "] must be 1..",
                                                     kMaxCategoryBytes, " bytes, got ",
                                                     hints[i].size()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTimestamp(int64_t t, absl::string_view field) {
  if (t < 0 || t > kMaxTimestampS) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be in 0..", kMaxTimestampS, " (Unix seconds), got ", t));
  }
  return absl::OkStatus();
}

absl::Status ValidateUserContextFields(const v1::UserContext& user, absl::string_view field) {
  if (user.user_id().size() > kMaxUserIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".user_id of ", user.user_id().size(),
                                                   " bytes (at most ", kMaxUserIdBytes, ")"));
  }
  if (absl::Status s = ValidateTimestamp(user.as_of_s(), absl::StrCat(field, ".as_of_s"));
      !s.ok()) {
    return s;
  }
  return ValidateCategoryHints(user.categories(), absl::StrCat(field, ".categories"));
}

UserContextWireRules::UserContextWireRules(int max_history, int64_t max_id_bytes) {
  // HistoryEvent: item_id = 1. UserContext: user_id = 1, history = 2,
  // categories = 4 (protos/recsys/v1/common.proto).
  event_ = {{.number = 1, .name = "item_id", .max_count = 1, .max_length = max_id_bytes}};
  user_ = {
      {.number = 1, .name = "user_id", .max_count = 1,
       .max_length = static_cast<int64_t>(kMaxUserIdBytes)},
      {.number = 2, .name = "history", .max_count = max_history, .nested = &event_},
      {.number = 4, .name = "categories", .max_count = kMaxCategoryHints,
       .max_length = static_cast<int64_t>(kMaxCategoryBytes)},
  };
}

WireFieldRule UserContextWireRules::Field(int number, const char* name) const {
  return {.number = number, .name = name, .max_count = 1, .nested = &user_};
}

}  // namespace recsys
