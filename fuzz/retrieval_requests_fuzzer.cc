// Fuzzes the retrieval service's request validation
// (retrieval_service/requests.h): the first input byte picks the
// recsys.v1.Retrieval request (Retrieve, Search, SimilarItems), the rest is
// its wire bytes. A request that passes must keep the documented limits,
// and the verdict must survive a wire round trip.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "fuzz/fuzz_support.h"
#include "recsys/v1/retrieval.pb.h"
#include "retrieval_service/requests.h"

namespace {

namespace rt = recsys::retrieval;
namespace v1 = recsys::v1;
using recsys::fuzz::Check;

template <typename Request, typename ValidateFn>
void Run(const uint8_t* data, size_t size, ValidateFn validate,
         void (*check_valid)(const Request&, const rt::RequestLimits&)) {
  Request r;
  if (!r.ParseFromArray(data, static_cast<int>(size))) return;
  const rt::RequestLimits limits;
  const absl::Status s = validate(r, limits);
  Request again;
  Check(again.ParseFromString(r.SerializeAsString()), "a parsed request re-parses");
  Check(validate(again, limits).ok() == s.ok(), "the verdict survives a wire round trip");
  if (!s.ok()) {
    Check(absl::IsInvalidArgument(s), "a refused request is INVALID_ARGUMENT");
    return;
  }
  check_valid(r, limits);
}

void CheckRetrieve(const v1::RetrieveRequest& r, const rt::RequestLimits& limits) {
  const v1::UserContext& user = r.user();
  Check(user.history_size() <= limits.max_history, "valid Retrieve: history count");
  Check(user.as_of_s() >= 0, "valid Retrieve: as_of_s");
  for (const v1::HistoryEvent& e : user.history()) {
    Check(!e.item_id().empty() && static_cast<int>(e.item_id().size()) <= limits.max_id_bytes,
          "valid Retrieve: history item id");
    Check(std::isfinite(e.weight()) && e.weight() >= 0, "valid Retrieve: history weight");
    Check(e.timestamp_s() >= 0, "valid Retrieve: history timestamp");
  }
  std::set<int> sources;
  for (const v1::SourceQuota& q : r.quotas()) {
    Check(q.k() >= 0 && q.k() <= limits.max_k, "valid Retrieve: quota k");
    Check(sources.insert(q.source()).second, "valid Retrieve: each source once");
    Check(q.source() != v1::SOURCE_UNSPECIFIED, "valid Retrieve: a known source");
  }
  Check(r.exclude_item_ids_size() <= limits.max_exclusions, "valid Retrieve: exclusions");
  Check(r.max_candidates() >= 0, "valid Retrieve: max_candidates");
}

void CheckSearch(const v1::SearchRequest& r, const rt::RequestLimits& limits) {
  Check(!r.query().empty() && static_cast<int>(r.query().size()) <= limits.max_query_bytes,
        "valid Search: query length");
  Check(!absl::StripAsciiWhitespace(r.query()).empty(), "valid Search: not only white space");
  Check(r.k() >= 1 && r.k() <= limits.max_k, "valid Search: k");
}

void CheckSimilar(const v1::SimilarItemsRequest& r, const rt::RequestLimits& limits) {
  Check(!r.item_id().empty() && static_cast<int>(r.item_id().size()) <= limits.max_id_bytes,
        "valid SimilarItems: item id");
  Check(r.k() >= 1 && r.k() <= limits.max_k, "valid SimilarItems: k");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::QuietProtobufLogs();
  if (size == 0) return 0;
  switch (data[0] % 3) {
    case 0:
      Run<v1::RetrieveRequest>(data + 1, size - 1, rt::ValidateRetrieveRequest, CheckRetrieve);
      break;
    case 1:
      Run<v1::SearchRequest>(data + 1, size - 1, rt::ValidateSearchRequest, CheckSearch);
      break;
    case 2:
      Run<v1::SimilarItemsRequest>(data + 1, size - 1, rt::ValidateSimilarItemsRequest,
                                   CheckSimilar);
      break;
  }
  return 0;
}
