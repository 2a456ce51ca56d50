#include "common/server/rank_signals.h"

#include <bit>

#include "common/features/features.h"
#include "common/fingerprint.h"

namespace recsys {

uint64_t UserFingerprint(const v1::UserContext& user) {
  Fingerprint64 f;
  f.Value<int64_t>(user.as_of_s()).Value<int64_t>(user.history_size());
  for (const v1::HistoryEvent& e : user.history()) {
    f.String(e.item_id())
        .Value<int64_t>(e.timestamp_s())
        .Value<uint32_t>(std::bit_cast<uint32_t>(e.weight()));
  }
  return f.value();
}

void FillRankSignals(const v1::UserContext& user, absl::string_view model_version,
                     v1::RankSignals* out) {
  out->set_schema(kSignalsSchema);
  out->set_model_version(std::string(model_version));
  out->set_user_fingerprint(UserFingerprint(user));
}

const char* SignalsVerdictName(SignalsVerdict verdict) {
  switch (verdict) {
    case SignalsVerdict::kUse: return "used";
    case SignalsVerdict::kAbsent: return "absent";
    case SignalsVerdict::kOtherSchema: return "other_schema";
    case SignalsVerdict::kOtherModel: return "other_model";
    case SignalsVerdict::kOtherUser: return "other_user";
  }
  return "absent";
}

SignalsVerdict CheckRankSignals(const v1::RankSignals& signals, absl::string_view model_version,
                                const v1::UserContext& user) {
  if (signals.schema() == 0 && signals.model_version().empty()) return SignalsVerdict::kAbsent;
  if (signals.schema() != kSignalsSchema) return SignalsVerdict::kOtherSchema;
  if (signals.model_version() != model_version) return SignalsVerdict::kOtherModel;
  if (signals.user_fingerprint() != UserFingerprint(user)) return SignalsVerdict::kOtherUser;
  return SignalsVerdict::kUse;
}

}  // namespace recsys
