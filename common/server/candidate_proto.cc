#include "common/server/candidate_proto.h"

namespace recsys {

void ToProtoCandidate(const ModelBundle& bundle, const PooledCandidate& candidate,
                      v1::Candidate* out) {
  out->set_item_id(bundle.catalogue.ids.Name(candidate.item));
  for (int s = 0; s < kNumSources; ++s) {
    if (candidate.rank[s] < 0) continue;
    v1::SourceScore* score = out->add_sources();
    score->set_source(static_cast<v1::Source>(s + 1));
    score->set_score(candidate.score[s]);
    score->set_rank(candidate.rank[s]);
  }
}

}  // namespace recsys
