#include "common/server/rank_signals.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <bit>
#include <cstring>

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
    case SignalsVerdict::kUnauthenticated: return "unauthenticated";
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

namespace {

// Little-endian, length-prefixed encoding of the MAC's input.
class MacInput {
 public:
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void String(absl::string_view s) {
    U64(s.size());
    bytes_.append(s.data(), s.size());
  }
  const std::string& bytes() const { return bytes_; }
  void Reserve(size_t n) { bytes_.reserve(n); }

 private:
  std::string bytes_;
};

}  // namespace

std::string RankSignalsMac(absl::string_view key, const v1::RankSignals& context,
                           const CandidateList& candidates) {
  MacInput in;
  in.Reserve(64 + context.model_version().size() + candidates.size() * 64);
  in.String("recsys.v1.RankSignals/hmac-sha256");  // domain separation
  in.U32(static_cast<uint32_t>(context.schema()));
  in.String(context.model_version());
  in.U64(context.user_fingerprint());
  in.U64(static_cast<uint64_t>(candidates.size()));
  for (const v1::Candidate& c : candidates) {
    in.String(c.item_id());
    in.U32(static_cast<uint32_t>(c.signals_size()));
    for (float v : c.signals()) in.U32(std::bit_cast<uint32_t>(v));
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(in.bytes().data()), in.bytes().size(), mac,
       &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

void SignRankSignals(absl::string_view key, const CandidateList& candidates,
                     v1::RankSignals* context) {
  if (key.empty()) return;
  context->clear_mac();
  context->set_mac(RankSignalsMac(key, *context, candidates));
}

bool VerifyRankSignals(absl::string_view key, const v1::RankSignals& context,
                       const CandidateList& candidates) {
  const std::string expected = RankSignalsMac(key, context, candidates);
  return context.mac().size() == expected.size() &&
         CRYPTO_memcmp(context.mac().data(), expected.data(), expected.size()) == 0;
}

SignalsVerdict CheckRankSignals(const v1::RankSignals& signals, absl::string_view model_version,
                                const v1::UserContext& user, absl::string_view key,
                                const CandidateList& candidates) {
  const SignalsVerdict verdict = CheckRankSignals(signals, model_version, user);
  if (verdict != SignalsVerdict::kUse || key.empty()) return verdict;
  return VerifyRankSignals(key, signals, candidates) ? SignalsVerdict::kUse
                                                     : SignalsVerdict::kUnauthenticated;
}

}  // namespace recsys
