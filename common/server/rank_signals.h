// The contract that lets the ranking service reuse the per-candidate signals
// retrieval computed (Candidate.signals + RankSignals): signals are used only
// when they were computed with the same signal layout, the same model bundle
// and the same user context as the ranking request; anything else falls back
// to rebuilding the user state, so a stale or foreign signal never changes a
// ranking.
//
// Authenticity: with a key shared by retrieval and ranking (--signals_key_file
// on both), retrieval signs the context and every candidate's id and signals
// (HMAC-SHA256, RankSignals.mac) and ranking uses signals only when the MAC
// verifies: a caller of Rank who forges signals to push an item up gets them
// recomputed instead. Without a key on ranking, a matching context is trusted
// as before (the demo on one host).
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
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
  kUnauthenticated,  // context matches but the MAC does not verify under the key
};
const char* SignalsVerdictName(SignalsVerdict verdict);

SignalsVerdict CheckRankSignals(const v1::RankSignals& signals, absl::string_view model_version,
                                const v1::UserContext& user);

using CandidateList = google::protobuf::RepeatedPtrField<v1::Candidate>;

// Shortest signals key accepted, bytes (e.g. `openssl rand -hex 32` gives 64).
inline constexpr size_t kMinSignalsKeyBytes = 16;

// HMAC-SHA256 (32 bytes) under `key` of the context's schema, model version and
// user fingerprint and of each candidate's item id and signals, in order
// (sources are not covered: they are the caller's input either way). Cost:
// one pass over ~40 bytes per candidate.
std::string RankSignalsMac(absl::string_view key, const v1::RankSignals& context,
                           const CandidateList& candidates);

// Sets context->mac to RankSignalsMac (does nothing when `key` is empty).
void SignRankSignals(absl::string_view key, const CandidateList& candidates,
                     v1::RankSignals* context);

// True when `context.mac` is RankSignalsMac under `key` (constant-time compare).
bool VerifyRankSignals(absl::string_view key, const v1::RankSignals& context,
                       const CandidateList& candidates);

// CheckRankSignals, then, when `key` is not empty and the context matches,
// VerifyRankSignals (kUnauthenticated when it fails).
SignalsVerdict CheckRankSignals(const v1::RankSignals& signals, absl::string_view model_version,
                                const v1::UserContext& user, absl::string_view key,
                                const CandidateList& candidates);

}  // namespace recsys
