// The ranking core: a RankRequest scored by the bundle's click model, then
// re-ranked (title dedupe, MMR diversity), without any network.
//
//   Ranker ranker(RankerOptions{});
//   RETURN_IF_ERROR(ranker.Validate(request));
//   RankStats stats;
//   RETURN_IF_ERROR(ranker.Rank(*bundle, request, &response, &stats));
//
// Train/serve parity: the request is converted into exactly what the trainer
// works on (UserState from BuildUserState, PooledCandidate rows in request
// order) and scored by ScorePool, the one feature + model path of
// common/features. With re-ranking off (mmr_lambda 1, no title dedupe, no
// exclusions) the returned order is RankPool's: logit descending, ties by item
// index.
//
// Pipeline of Rank():
//   1. candidates named in exclude_item_ids are dropped (before scoring, so the
//      pool the model sees is the pool retrieval would have produced had it
//      applied the exclusion itself; pool-relative features depend on it);
//   2. candidates the bundle does not know are kept out of the model pool
//      (they would shift the pool-relative features of the others) and
//      counted; they are placed after every known candidate, in request order,
//      with score 0 — only to fill k when the known ones run out;
//   3. the known pool is scored (logits) and ordered by RankPool's rule;
//   4. optional title dedupe: an item whose non-empty title equals a
//      better-ranked one's is dropped;
//   5. MMR over the content embeddings when lambda < 1 (lambda = 1 skips it:
//      the model order is returned bit for bit); then top k.
// The response score is the click probability sigmoid(logit) in [0,1]; with
// MMR the order is MMR's and the score is still the model's probability.
//
// Threading: const methods are safe to call concurrently. Cost: with usable
// retrieval signals O(n x features) for scoring n candidates; otherwise plus
// O(history x model work) for the user state; O(k x n x dim) for MMR.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/retrieval/pool.h"
#include "common/features/features.h"
#include "common/server/rank_signals.h"
#include "recsys/v1/ranking.pb.h"

namespace recsys::ranking {

struct RankerOptions {
  // Largest k a request may ask for.
  int max_k = 1000;
  // Most candidates one request may carry.
  int max_candidates = 2000;
  // Most history events one request may carry (UserContext contract; the
  // gateway's default sends up to 5000).
  int max_history = 5000;
  // Most exclude_item_ids one request may carry.
  int max_exclusions = 10000;
  // Admission control: Rank calls being computed at once; one more is refused
  // at once with RESOURCE_EXHAUSTED (the gateway then degrades to retrieval
  // order) instead of queueing CPU work that would miss its deadline anyway.
  int max_inflight = 64;
  // Largest Rank request, bytes (1,000 candidates with signals and a
  // 2,000-event history of 16-byte ids take ~0.3 MB; 2,000 and 5,000 ~0.6 MB).
  // Checked with every count above on the wire bytes before the request is
  // parsed (common/server/wire_limits.h).
  int64_t max_request_bytes = 1 << 20;
  // Key shared with retrieval (--signals_key_file): candidate signals are used
  // only when RankSignals.mac verifies under it. Empty = a matching context
  // is enough (no authentication).
  std::string signals_key;
};

// A request in the model's terms (see the pipeline above).
struct RankInput {
  // Whether the request's Candidate.signals were used (kUse) or the user
  // state was rebuilt here (any other verdict).
  SignalsVerdict signals_verdict = SignalsVerdict::kAbsent;
  // The user-level feature inputs (as-of time, known history length).
  FeatureContext context;
  // signals[i] belongs to pool[i]: from the request, or computed here.
  std::vector<CandidateSignals> signals;
  // Known, non-excluded candidates in request order.
  std::vector<PooledCandidate> pool;
  // Index into request.candidates() of pool[i].
  std::vector<int> pool_request_index;
  // Request indices of unknown, non-excluded candidates, in request order.
  std::vector<int> unknown_request_index;
  // Candidates whose id the bundle does not know (excluded or not).
  int unknown_candidates = 0;
  // Candidates dropped by exclude_item_ids.
  int excluded_candidates = 0;
  // History events whose item the bundle does not know (dropped).
  int unknown_history = 0;
};

// What one Rank() did, for metrics.
struct RankStats {
  int candidates = 0;
  int unknown_candidates = 0;
  // Request conversion + (without usable signals) BuildUserState and the
  // candidates' signals: grows with the history length.
  absl::Duration user_state = absl::ZeroDuration();
  SignalsVerdict signals_verdict = SignalsVerdict::kAbsent;
  // ScorePool: features of the pool + the model's batch mat-vec.
  absl::Duration scoring = absl::ZeroDuration();
};

// Converts a request that passed Validate() into the model's terms. The
// user's as_of_s 0 means the bundle's "now" (BuildUserState's rule); history
// events with timestamp 0 are placed at that as-of time. The candidates'
// signals are taken from the request when its RankSignals context matches
// the bundle and user (CheckRankSignals), else computed from a fresh
// BuildUserState — the features are bit-identical either way.
// `signals_key`: see RankerOptions::signals_key.
RankInput ToRankInput(const ModelBundle& bundle, const v1::RankRequest& request,
                      absl::string_view signals_key = {});

// Indices into `items` (given best first) of the `k` picks of Maximal Marginal
// Relevance: each step picks argmax lambda * relevance[i] - (1 - lambda) *
// max_{j picked} cos(e_i, e_j), ties to the earlier item. `embeddings` holds
// items.size() rows of `dim` floats (row i = item i's embedding; zero rows have
// cosine 0 with everything). lambda >= 1 returns the first k indices unchanged.
// Cost O(k x n x dim).
std::vector<int> MmrSelect(std::span<const float> relevance, std::span<const float> embeddings,
                           int dim, float lambda, int k);

class Ranker {
 public:
  explicit Ranker(RankerOptions options) : options_(options) {}

  // INVALID_ARGUMENT (with a message naming the field) for k out of 1..max_k,
  // too many candidates or history events, empty or duplicate candidate ids,
  // a source score or history weight that is NaN/inf (or a weight < 0), a
  // source value outside the Source enum, a negative source rank, the same
  // source twice on one candidate, mmr_lambda outside [0,1], negative times,
  // and — when the signals context has this build's schema — candidate
  // signals that are not exactly kNumSignals finite values (or absent).
  absl::Status Validate(const v1::RankRequest& request) const;

  // Validates, then ranks `request` against `bundle` into `response`
  // (overwritten). An empty candidate list gives an empty answer. `stats` may
  // be null.
  absl::Status Rank(const ModelBundle& bundle, const v1::RankRequest& request,
                    v1::RankResponse* response, RankStats* stats) const;

  const RankerOptions& options() const { return options_; }

 private:
  RankerOptions options_;
};

}  // namespace recsys::ranking
