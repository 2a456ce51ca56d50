#include "common/server/rank_signals.h"

#include <bit>
#include <cstring>

#include "common/features/features.h"

namespace recsys {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void Mix(uint64_t* h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    *h ^= p[i];
    *h *= kFnvPrime;
  }
}

template <typename T>
void MixValue(uint64_t* h, T v) {
  Mix(h, &v, sizeof(v));
}

}  // namespace

uint64_t UserFingerprint(const v1::UserContext& user) {
  uint64_t h = kFnvOffset;
  MixValue<int64_t>(&h, user.as_of_s());
  MixValue<int64_t>(&h, user.history_size());
  for (const v1::HistoryEvent& e : user.history()) {
    MixValue<uint64_t>(&h, e.item_id().size());  // length-prefixed: no ambiguity
    Mix(&h, e.item_id().data(), e.item_id().size());
    MixValue<int64_t>(&h, e.timestamp_s());
    MixValue<uint32_t>(&h, std::bit_cast<uint32_t>(e.weight()));
  }
  return h;
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
