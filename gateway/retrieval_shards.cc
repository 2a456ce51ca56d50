#include "gateway/retrieval_shards.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/retrieval/pool.h"
#include "common/server/grpc_status.h"
#include "common/server/rank_signals.h"

namespace recsys::gateway {
namespace {

// Where a merged candidate's id and signals come from.
struct Origin {
  const v1::Candidate* candidate;
};

std::string ShardName(size_t i, size_t n) { return absl::StrCat(i, "/", n); }

}  // namespace

grpc::Status MergeShardAnswers(absl::Span<const ShardAnswer> answers,
                               const std::string& signals_key, v1::RetrieveResponse* out,
                               ShardMergeOutcome* outcome) {
  const size_t n = answers.size();
  std::vector<bool> usable(n, false);
  auto leave_out = [&](size_t i, grpc::StatusCode code, const std::string& why) {
    ++outcome->left_out;
    outcome->notes.push_back(
        absl::StrCat("retrieval shard ", ShardName(i, n), " unavailable: ", why));
    if (outcome->degraded_reason.empty()) {
      outcome->degraded_reason = absl::StrCat("retrieval_shard:", GrpcCodeName(code));
    }
  };
  // Which shards answered as what they were configured to be.
  absl::flat_hash_map<std::string, int> versions;
  for (size_t i = 0; i < n; ++i) {
    const ShardAnswer& a = answers[i];
    if (!a.status.ok()) continue;
    const std::string expected = n > 1 ? ShardName(i, n) : "";
    if (a.response->shard() != expected) {
      leave_out(i, grpc::StatusCode::FAILED_PRECONDITION,
                absl::StrCat("the target listed as shard ", ShardName(i, n), " serves shard \"",
                             a.response->shard(), "\" (check --retrieval_shards order and "
                                                  "each service's --shard)"));
      continue;
    }
    usable[i] = true;
    ++versions[a.response->model_version()];
  }
  // The version most shards serve (ties: the one of the lowest shard).
  std::string version;
  int best = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!usable[i]) continue;
    const int c = versions[answers[i].response->model_version()];
    if (c > best) {
      best = c;
      version = answers[i].response->model_version();
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const ShardAnswer& a = answers[i];
    if (!a.status.ok()) {
      leave_out(i, a.status.error_code(),
                absl::StrCat(GrpcCodeName(a.status.error_code()), " ", a.status.error_message()));
    } else if (usable[i] && a.response->model_version() != version) {
      usable[i] = false;
      leave_out(i, grpc::StatusCode::FAILED_PRECONDITION,
                absl::StrCat("serves model ", a.response->model_version(), ", the others ",
                             version));
    }
  }
  size_t first = n;
  for (size_t i = 0; i < n; ++i) {
    if (usable[i]) {
      first = i;
      break;
    }
  }
  if (first == n) {
    for (const ShardAnswer& a : answers) {
      if (!a.status.ok()) return a.status;
    }
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("no usable retrieval shard: ", outcome->notes.empty()
                                                                        ? std::string()
                                                                        : outcome->notes[0]));
  }
  const v1::RetrieveResponse& head = *answers[first].response;

  retrieval::SourceCounts quotas{};
  for (const v1::SourceQuota& q : head.quotas()) {
    const int s = static_cast<int>(q.source()) - 1;
    if (s >= 0 && s < kNumSources) quotas[s] = q.k();
  }
  // Per source: every usable shard's list, merged in RanksBefore order.
  retrieval::SourceLists lists;
  absl::flat_hash_map<ItemIndex, Origin> origin;
  bool all_signals = head.has_signals();
  for (size_t i = 0; i < n; ++i) {
    if (!usable[i]) continue;
    const v1::RetrieveResponse& r = *answers[i].response;
    all_signals = all_signals && r.has_signals() &&
                  r.signals().schema() == head.signals().schema() &&
                  r.signals().user_fingerprint() == head.signals().user_fingerprint();
    for (const v1::Candidate& c : r.candidates()) {
      origin.try_emplace(c.catalogue_index(), Origin{&c});
      for (const v1::SourceScore& s : c.sources()) {
        const int source = static_cast<int>(s.source()) - 1;
        if (source < 0 || source >= kNumSources) continue;
        lists[source].push_back(ScoredIndex{c.catalogue_index(), s.score()});
      }
    }
  }
  for (int s = 0; s < kNumSources; ++s) SortAndTruncate(&lists[s], std::max(quotas[s], 0));
  const std::vector<PooledCandidate> pool =
      retrieval::PoolCandidates(lists, quotas, head.max_candidates());

  out->Clear();
  out->mutable_candidates()->Reserve(static_cast<int>(pool.size()));
  for (const PooledCandidate& p : pool) {
    const v1::Candidate& from = *origin.at(p.item).candidate;
    v1::Candidate* c = out->add_candidates();
    c->set_item_id(from.item_id());
    for (int s = 0; s < kNumSources; ++s) {
      if (p.rank[s] < 0) continue;
      v1::SourceScore* score = c->add_sources();
      score->set_source(static_cast<v1::Source>(s + 1));
      score->set_score(p.score[s]);
      score->set_rank(p.rank[s]);
    }
    if (all_signals) *c->mutable_signals() = from.signals();
  }
  for (size_t i = 0; i < n; ++i) {
    if (!usable[i]) continue;
    for (const v1::SkippedSource& skipped : answers[i].response->skipped()) {
      v1::SkippedSource* s = out->add_skipped();
      s->set_source(skipped.source());
      s->set_reason(n > 1 ? absl::StrCat("shard ", ShardName(i, n), ": ", skipped.reason())
                          : skipped.reason());
    }
  }
  out->set_model_version(version);
  out->set_unknown_history_items(head.unknown_history_items());
  // Timings: each stage's slowest shard (they ran side by side).
  for (size_t i = 0; i < n; ++i) {
    if (!usable[i]) continue;
    for (const v1::StageTiming& t : answers[i].response->timings()) {
      v1::StageTiming* same = nullptr;
      for (v1::StageTiming& o : *out->mutable_timings()) {
        if (o.stage() == t.stage()) same = &o;
      }
      if (same == nullptr) {
        *out->add_timings() = t;
      } else {
        same->set_micros(std::max(same->micros(), t.micros()));
      }
    }
  }
  if (all_signals) {
    v1::RankSignals* signals = out->mutable_signals();
    signals->set_schema(head.signals().schema());
    signals->set_model_version(version);
    signals->set_user_fingerprint(head.signals().user_fingerprint());
    SignRankSignals(signals_key, out->candidates(), signals);
  }
  return grpc::Status::OK;
}

// One fanned-out call: the shards' replies and a countdown; the last reply merges.
struct FanOut {
  FanOut(size_t n, v1::RetrieveResponse* out, ShardedRetrieval::Done done_fn)
      : contexts(n), responses(n), statuses(n), pending(static_cast<int>(n)), response(out),
        done(std::move(done_fn)) {}
  v1::RetrieveRequest request;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::RetrieveResponse> responses;
  std::vector<grpc::Status> statuses;
  std::atomic<int> pending;
  v1::RetrieveResponse* const response;
  ShardedRetrieval::Done done;
};

ShardedRetrieval::ShardedRetrieval(std::vector<std::shared_ptr<grpc::ChannelInterface>> shards,
                                   std::string signals_key)
    : signals_key_(std::move(signals_key)) {
  for (auto& channel : shards) stubs_.push_back(v1::Retrieval::NewStub(channel));
}

ShardedRetrieval::~ShardedRetrieval() = default;

void ShardedRetrieval::Retrieve(const v1::RetrieveRequest& request,
                                v1::RetrieveResponse* response, absl::Time deadline,
                                const ContextFactory& make_context, Done done) const {
  const size_t n = stubs_.size();
  auto call = std::make_shared<FanOut>(n, response, std::move(done));
  call->request = request;
  call->request.set_shard_lists(true);
  for (size_t i = 0; i < n; ++i) {
    call->contexts[i] = make_context();
    call->contexts[i]->set_deadline(absl::ToChronoTime(deadline));
  }
  const std::string* key = &signals_key_;
  for (size_t i = 0; i < n; ++i) {
    stubs_[i]->async()->Retrieve(
        call->contexts[i].get(), &call->request, &call->responses[i],
        [call, i, key](grpc::Status status) {
          call->statuses[i] = std::move(status);
          if (call->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
          std::vector<ShardAnswer> answers(call->responses.size());
          for (size_t j = 0; j < answers.size(); ++j) {
            answers[j] = ShardAnswer{call->statuses[j], &call->responses[j]};
          }
          ShardMergeOutcome outcome;
          grpc::Status merged = MergeShardAnswers(answers, *key, call->response, &outcome);
          Done finish = std::move(call->done);
          finish(std::move(merged), std::move(outcome));
        });
  }
}

}  // namespace recsys::gateway
