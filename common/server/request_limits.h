// Limits every service applies to the fields of UserContext and to ids, so a
// caller cannot make one request cost more than its bytes suggest (millions of
// empty repeated strings) or smuggle values the models were never fit for.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/server/wire_limits.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "recsys/v1/common.pb.h"

namespace recsys {

// Most category hints one request may carry, and the longest one, bytes.
inline constexpr int kMaxCategoryHints = 64;
inline constexpr size_t kMaxCategoryBytes = 128;
// Longest user id, bytes (item ids: each service's own limit, 256 by default).
inline constexpr size_t kMaxUserIdBytes = 256;
// Latest timestamp accepted anywhere (Unix seconds, 2500-01-01): later values
// are garbage, and time arithmetic on them could overflow.
inline constexpr int64_t kMaxTimestampS = 16725225600;

// InvalidArgument naming `field` unless there are at most kMaxCategoryHints
// hints of 1..kMaxCategoryBytes bytes each.
absl::Status ValidateCategoryHints(const google::protobuf::RepeatedPtrField<std::string>& hints,
                                   absl::string_view field);

// user_id at most kMaxUserIdBytes (may be empty: anonymous), as_of_s in
// 0..kMaxTimestampS, the category hints; `field` names the context in errors.
// History events are checked by the caller (their limits differ per service),
// with ValidateTimestamp for their times.
absl::Status ValidateUserContextFields(const v1::UserContext& user, absl::string_view field);

// InvalidArgument naming `field` unless 0 <= t <= kMaxTimestampS.
absl::Status ValidateTimestamp(int64_t t, absl::string_view field);

// Wire rules (wire_limits.h) for a UserContext field: at most one occurrence
// (a repeated singular message field would be merged, multiplying its
// history), user_id and each history event's item id at most `max_id_bytes`,
// at most `max_history` events and kMaxCategoryHints hints. Not copyable: the
// rules point into the object.
class UserContextWireRules {
 public:
  UserContextWireRules(int max_history, int64_t max_id_bytes);
  UserContextWireRules(const UserContextWireRules&) = delete;
  UserContextWireRules& operator=(const UserContextWireRules&) = delete;

  // The rule for a UserContext carried as field `number` of a request.
  WireFieldRule Field(int number, const char* name) const;
  // The rules inside one HistoryEvent (for requests that carry events directly).
  const std::vector<WireFieldRule>& event_rules() const { return event_; }

 private:
  std::vector<WireFieldRule> event_;
  std::vector<WireFieldRule> user_;
};

}  // namespace recsys
