// Fuzzes the ranking service's request edge: input bytes are a
// recsys.v1.RankRequest on the wire; one that parses goes through
// Ranker::Validate. A valid request must keep the documented limits, and the
// verdict must survive a wire round trip. Valid requests also drive
// MmrSelect (the diversity step) with relevance and 2-d embeddings taken from
// the candidates' scores and signals: it must pick min(k, n) distinct
// in-range candidates.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "fuzz/fuzz_support.h"
#include "ranking_service/ranker.h"
#include "recsys/v1/ranking.pb.h"

namespace {

namespace v1 = recsys::v1;
using recsys::fuzz::Check;

void CheckValid(const v1::RankRequest& r, const recsys::ranking::RankerOptions& o) {
  Check(r.k() >= 1 && r.k() <= o.max_k, "valid Rank: k");
  Check(r.candidates_size() <= o.max_candidates, "valid Rank: candidate count");
  Check(r.user().history_size() <= o.max_history, "valid Rank: history count");
  Check(r.user().as_of_s() >= 0, "valid Rank: as_of_s");
  std::set<std::string> ids;
  for (const v1::Candidate& c : r.candidates()) {
    Check(!c.item_id().empty(), "valid Rank: candidate id");
    Check(ids.insert(c.item_id()).second, "valid Rank: distinct candidates");
    for (const v1::SourceScore& s : c.sources()) {
      Check(std::isfinite(s.score()) && s.rank() >= 0, "valid Rank: source score and rank");
    }
  }
  for (const v1::HistoryEvent& e : r.user().history()) {
    Check(std::isfinite(e.weight()) && e.weight() >= 0, "valid Rank: history weight");
    Check(e.timestamp_s() >= 0, "valid Rank: history timestamp");
  }
  if (r.options().has_mmr_lambda()) {
    const float l = r.options().mmr_lambda();
    Check(l >= 0.0f && l <= 1.0f, "valid Rank: mmr_lambda in [0,1]");
  }
}

void Mmr(const v1::RankRequest& r) {
  constexpr int kDim = 2;
  const int n = r.candidates_size();
  std::vector<float> relevance(n, 0.0f), embeddings(static_cast<size_t>(n) * kDim, 0.0f);
  for (int i = 0; i < n; ++i) {
    const v1::Candidate& c = r.candidates(i);
    for (const v1::SourceScore& s : c.sources()) relevance[i] += s.score();
    for (int d = 0; d < kDim && d < c.signals_size(); ++d) {
      if (std::isfinite(c.signals(d))) embeddings[static_cast<size_t>(i) * kDim + d] = c.signals(d);
    }
  }
  const float lambda = r.options().has_mmr_lambda() ? r.options().mmr_lambda() : 0.5f;
  const std::vector<int> picked = recsys::ranking::MmrSelect(relevance, embeddings, kDim, lambda,
                                                             r.k());
  Check(static_cast<int>(picked.size()) == std::min(r.k(), n), "MMR picks min(k, n)");
  std::set<int> seen;
  for (int i : picked) {
    Check(i >= 0 && i < n, "MMR picks in range");
    Check(seen.insert(i).second, "MMR picks distinct candidates");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::QuietProtobufLogs();
  v1::RankRequest r;
  if (!r.ParseFromArray(data, static_cast<int>(size))) return 0;
  const recsys::ranking::Ranker ranker{recsys::ranking::RankerOptions{}};
  const absl::Status s = ranker.Validate(r);
  v1::RankRequest again;
  Check(again.ParseFromString(r.SerializeAsString()), "a parsed request re-parses");
  Check(ranker.Validate(again).ok() == s.ok(), "the verdict survives a wire round trip");
  if (!s.ok()) {
    Check(absl::IsInvalidArgument(s), "a refused Rank is INVALID_ARGUMENT");
    return 0;
  }
  CheckValid(r, ranker.options());
  Mmr(r);
  return 0;
}
