// A pooled candidate as it travels between services: external id plus one
// SourceScore per source that retrieved it (proto Source = SourceId + 1).
#pragma once

#include "common/bundle/model_bundle.h"
#include "common/retrieval/pool.h"
#include "recsys/v1/common.pb.h"

namespace recsys {

void ToProtoCandidate(const ModelBundle& bundle, const PooledCandidate& candidate,
                      v1::Candidate* out);

}  // namespace recsys
