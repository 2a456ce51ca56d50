// CandidatePool: the scheduling of the retrieval library (common/retrieval/) for
// the service. It runs the planned retrievers of one request in parallel on a
// WorkerPool, with deadlines, and pools their lists with the library's
// PlanSources / PoolCandidates, so the pool a client gets equals the trainer's
// and the evaluator's (which run the same steps sequentially).
//
//   CandidatePool pool(&workers, MakeDefaultRetrievers(), {});
//   PoolRequest r; r.bundle = holder.Current(); r.history = ...; r.quotas = ...;
//   RETURN_IF_ERROR(pool.Submit(std::move(r), [](PoolResult result) { ... }));
//
// A request is one "prepare" task (BuildUserState: profile, fold-in, votes,
// trending as of the request) followed by one task per enabled source; the last
// source to complete merges and calls `done` (an atomic countdown, nobody waits).
// Degradation, never blocking:
//   - a source that would start later than deadline - deadline_margin is skipped
//     (reason kDeadline), and so is every source when the prepare task starts that
//     late;
//   - a source whose task does not fit in the worker queue is skipped (kQueueFull);
//   - a source that fails is skipped (kError) with its status;
//   - when even the prepare task does not fit, Submit answers ResourceExhausted and
//     `done` is never called.
// Which sources run (quota, model present, cold start) is PlanSources' rule;
// sources it leaves out are not reported as skipped.
//
// Threading: Submit is safe from any thread; `done` runs exactly once on a worker
// thread (after a successful Submit) and may Finish a gRPC reactor. The bundle is
// held (shared_ptr) until `done` returns, so a hot swap never frees it mid-request.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/features/features.h"
#include "common/retrieval/pool.h"
#include "common/retrieval/retriever.h"
#include "common/retrieval/user_state.h"
#include "common/server/worker_pool.h"

namespace recsys::retrieval {

enum class SkipReason { kDeadline, kQueueFull, kError };
inline constexpr int kNumSkipReasons = 3;
// "deadline", "queue_full", "error" (the metric label and the response's reason).
const char* SkipReasonName(SkipReason reason);

struct PoolRequest {
  // The snapshot the whole request uses. Required.
  std::shared_ptr<const ModelBundle> bundle;
  // Known history items (bundle item indices), oldest first.
  std::vector<Interaction> history;
  // Request time, Unix seconds; 0 = the bundle's "now" (BuildUserState's rule).
  int64_t as_of_s = 0;
  // Items never returned besides the history (bundle item indices).
  std::vector<ItemIndex> exclude;
  // Category hints (catalogue category indices, ascending): cold start lists
  // their items first (UserState::category_hints).
  std::vector<int32_t> category_hints;
  // Candidates per source (0 disables it), indexed by SourceId.
  std::array<int, kNumSources> quotas{};
  // Pool size bound passed to PoolCandidates (<= 0: no bound).
  int max_pool = 0;
  // Sources do not start after deadline - deadline_margin.
  absl::Time deadline = absl::InfiniteFuture();
  // Also compute each pooled candidate's ranking signals (ComputeSignals).
  bool with_signals = false;
};

// What happened to one source of a request.
struct SourceOutcome {
  bool attempted = false;                         // planned for this request (PlanSources)
  bool ran = false;                               // produced a list (possibly empty)
  int candidates = 0;                             // list size when it ran
  absl::Duration elapsed = absl::ZeroDuration();  // wall time of Retrieve when it ran
  std::optional<SkipReason> skipped;
  absl::Status error;  // the failure for kError
};

struct PoolResult {
  std::vector<PooledCandidate> pool;  // PoolCandidates order
  std::array<SourceOutcome, kNumSources> sources;
  absl::Duration user_state_elapsed = absl::ZeroDuration();  // 0 when not built
  bool cold_start = false;  // no known history: only cold-start sources ran
  // signals[i] for pool[i] when asked for and the user state was built; else empty.
  std::vector<CandidateSignals> signals;
};

struct CandidatePoolOptions {
  // Headroom kept before the deadline: a source starting later is skipped,
  // since its result could not reach the client in time.
  absl::Duration deadline_margin = absl::Milliseconds(1);
  // Clock for the deadline checks (tests inject one). Empty = absl::Now.
  std::function<absl::Time()> clock;
};

class CandidatePool {
 public:
  using Done = std::function<void(PoolResult)>;

  // `workers` is not owned and must outlive the pool (and every request in it).
  CandidatePool(WorkerPool* workers, RetrieverSet retrievers, CandidatePoolOptions options);
  CandidatePool(const CandidatePool&) = delete;
  CandidatePool& operator=(const CandidatePool&) = delete;

  // Starts one request. OK: `done` will be called exactly once on a worker thread.
  // ResourceExhausted: the worker queue is full; `done` is never called.
  // InvalidArgument: no bundle in `request`.
  absl::Status Submit(PoolRequest request, Done done) const;

  // Submit, then block the caller until the result. For tests, benchmarks and
  // offline tools only: never from a worker of this pool or a gRPC callback.
  absl::StatusOr<PoolResult> Run(PoolRequest request) const;

  const Retriever& retriever(SourceId s) const { return *retrievers_[static_cast<int>(s)]; }

 private:
  struct Job;
  void Prepare(const std::shared_ptr<Job>& job) const;
  void RunSource(const std::shared_ptr<Job>& job, int source) const;
  // Called once per source plus once by Prepare; the last call merges and
  // hands the result to `done`.
  void Release(const std::shared_ptr<Job>& job) const;
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  bool TooLate(const PoolRequest& request) const;

  WorkerPool* const workers_;
  const RetrieverSet retrievers_;
  const CandidatePoolOptions options_;
};

}  // namespace recsys::retrieval
