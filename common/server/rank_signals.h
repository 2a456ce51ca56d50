// The contract that lets the ranking service reuse the per-candidate signals
// retrieval computed (Candidate.signals + RankSignals): signals are used only
// when they were computed with the same signal layout, the same model bundle
// and the same user context as the ranking request; anything else falls back
// to rebuilding the user state, so a stale or foreign signal never changes a
// ranking.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "recsys/v1/common.pb.h"

namespace recsys {

// 64-bit FNV-1a over the context's history (item id, timestamp, weight bits)
// and as_of_s — the inputs of the user state. Stable across processes and
// builds (unlike absl::Hash, which is seeded per process).
uint64_t UserFingerprint(const v1::UserContext& user);

// The RankSignals a retrieval response carries for `user` under `model_version`.
void FillRankSignals(const v1::UserContext& user, absl::string_view model_version,
                     v1::RankSignals* out);

enum class SignalsVerdict {
  kUse,           // matches: use Candidate.signals
  kAbsent,        // no signals context in the request
  kOtherSchema,   // computed by a build with a different signal layout
  kOtherModel,    // computed with another model version (e.g. during a swap)
  kOtherUser,     // computed for a different user context
};
const char* SignalsVerdictName(SignalsVerdict verdict);

SignalsVerdict CheckRankSignals(const v1::RankSignals& signals, absl::string_view model_version,
                                const v1::UserContext& user);

}  // namespace recsys
