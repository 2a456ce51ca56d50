#include "gateway/cache_key.h"

#include <cstdint>
#include <string>

#include "common/fingerprint.h"
#include "common/server/rank_signals.h"

namespace recsys::gateway {

ResponseCacheKey RecommendCacheKey(const v1::RecommendRequest& request,
                                   const v1::UserContext& user, absl::string_view model_version) {
  Fingerprint64 f;
  f.Value<uint64_t>(UserFingerprint(user)).String(model_version).Value<int32_t>(request.k());
  f.Value<int32_t>(request.exclude_item_ids_size());
  for (const std::string& id : request.exclude_item_ids()) f.String(id);
  f.Value<int32_t>(request.context_categories_size());
  for (const std::string& c : request.context_categories()) f.String(c);
  return ResponseCacheKey{request.user_id(), f.value()};
}

}  // namespace recsys::gateway
