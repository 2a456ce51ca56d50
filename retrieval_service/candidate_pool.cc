#include "retrieval_service/candidate_pool.h"

#include <atomic>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace recsys::retrieval {

const char* SkipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kDeadline:
      return "deadline";
    case SkipReason::kQueueFull:
      return "queue_full";
    case SkipReason::kError:
      return "error";
  }
  return "error";
}

// One request in flight, shared by its prepare and source tasks. Each source
// task writes only its own slot of `lists` and `result.sources`; the countdown's
// acq_rel ordering publishes those writes to whichever task merges.
struct CandidatePool::Job {
  PoolRequest request;
  Done done;
  UserState state;  // written by Prepare before any source task is queued
  bool state_built = false;
  SourceLists lists;
  PoolResult result;
  // Outstanding source tasks + 1 for Prepare itself.
  std::atomic<int> pending{1};
};

CandidatePool::CandidatePool(WorkerPool* workers, RetrieverSet retrievers,
                             CandidatePoolOptions options)
    : workers_(workers), retrievers_(std::move(retrievers)), options_(std::move(options)) {}

bool CandidatePool::TooLate(const PoolRequest& request) const {
  if (request.deadline == absl::InfiniteFuture()) return false;
  return Now() > request.deadline - options_.deadline_margin;
}

absl::Status CandidatePool::Submit(PoolRequest request, Done done) const {
  if (request.bundle == nullptr) return absl::InvalidArgumentError("PoolRequest without a bundle");
  auto job = std::make_shared<Job>();
  job->request = std::move(request);
  job->done = std::move(done);
  if (!workers_->TrySchedule([this, job] { Prepare(job); })) {
    return absl::ResourceExhaustedError(
        absl::StrCat("retrieval overloaded: worker queue full (", workers_->queue_capacity(),
                     " tasks waiting for ", workers_->threads(), " workers)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PoolResult> CandidatePool::Run(PoolRequest request) const {
  absl::Notification finished;
  PoolResult out;
  absl::Status s = Submit(std::move(request), [&](PoolResult r) {
    out = std::move(r);
    finished.Notify();
  });
  if (!s.ok()) return s;
  finished.WaitForNotification();
  return out;
}

void CandidatePool::Prepare(const std::shared_ptr<Job>& job) const {
  PoolRequest& request = job->request;
  PoolResult& result = job->result;
  const ModelBundle& bundle = *request.bundle;
  const SourcePlan plan =
      PlanSources(retrievers_, bundle, request.quotas, !request.history.empty());
  result.cold_start = plan.cold_start;
  for (int s = 0; s < kNumSources; ++s) result.sources[s].attempted = plan.runs(s);
  if (!plan.any()) {  // every source disabled: nothing to compute
    Release(job);
    return;
  }
  if (TooLate(request)) {
    for (SourceOutcome& o : result.sources) {
      if (o.attempted) o.skipped = SkipReason::kDeadline;
    }
    Release(job);
    return;
  }

  const absl::Time start = absl::Now();
  job->state = BuildUserState(bundle, std::move(request.history), request.as_of_s, request.exclude);
  job->state.category_hints = std::move(request.category_hints);
  result.user_state_elapsed = absl::Now() - start;
  job->state_built = true;

  for (int s = 0; s < kNumSources; ++s) {
    SourceOutcome& o = result.sources[s];
    if (!o.attempted) continue;
    job->pending.fetch_add(1, std::memory_order_relaxed);
    if (!workers_->TrySchedule([this, job, s] { RunSource(job, s); })) {
      o.skipped = SkipReason::kQueueFull;
      job->pending.fetch_sub(1, std::memory_order_relaxed);  // Prepare's own count keeps it > 0
    }
  }
  Release(job);
}

void CandidatePool::RunSource(const std::shared_ptr<Job>& job, int s) const {
  SourceOutcome& o = job->result.sources[s];
  if (TooLate(job->request)) {
    o.skipped = SkipReason::kDeadline;
  } else {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<ScoredIndex>> list;
    try {
      list = retrievers_[s]->Retrieve(*job->request.bundle, job->state, job->request.quotas[s]);
    } catch (const std::exception& e) {  // e.g. bad_alloc: one source fails, not the process
      list = absl::InternalError(absl::StrCat(retrievers_[s]->name(), " threw: ", e.what()));
    }
    o.elapsed = absl::Now() - start;
    if (list.ok()) {
      o.ran = true;
      o.candidates = static_cast<int>(list->size());
      job->lists[s] = *std::move(list);
    } else {
      o.skipped = SkipReason::kError;
      o.error = list.status();
    }
  }
  Release(job);
}

void CandidatePool::Release(const std::shared_ptr<Job>& job) const {
  if (job->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  job->result.pool = PoolCandidates(job->lists, job->request.quotas, job->request.max_pool);
  if (job->request.with_signals && job->state_built) {
    ComputeSignals(*job->request.bundle, job->state, job->result.pool, &job->result.signals);
  }
  Done done = std::move(job->done);
  done(std::move(job->result));
}

}  // namespace recsys::retrieval
