#include "offline/fit_bundle.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys::offline {
namespace {

// One pseudo-document per item: a token per training user who consumed it.
std::vector<ItemInfo> CoConsumptionDocuments(int32_t num_items,
                                             std::span<const Interaction> events) {
  std::vector<ItemInfo> docs(static_cast<size_t>(num_items));
  for (const Interaction& e : events) {
    if (e.item < 0 || e.item >= num_items) continue;
    ItemInfo& d = docs[e.item];
    absl::StrAppend(&d.text, d.text.empty() ? "" : " ", "user", e.user);
    d.has_metadata = true;
  }
  return docs;
}

// "1.2s": a phase's wall time for the one line it logs.
std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(d));
}

// "index flat, recall@200 1.000" (with ef_search for HNSW).
std::string IndexSummary(const IndexRecall& r) {
  return absl::StrFormat("index %s, recall@%d %.3f%s", r.kind, r.k, r.recall,
                         r.ef_search > 0 ? absl::StrFormat(" at ef_search %d", r.ef_search) : "");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelBundle>> FitBundle(const Dataset& data,
                                                       std::span<const Interaction> events,
                                                       const TrainOptions& options,
                                                       const ServingParams& serving,
                                                       FitTimes* times) {
  FitTimes local_times;
  if (times == nullptr) times = &local_times;
  auto b = std::make_unique<ModelBundle>();
  b->params = serving;
  b->catalogue = BuildCatalogue(data, events);
  const int32_t n = b->num_items();
  const int32_t users = data.num_users();
  absl::Time t0 = absl::Now();
  // Without any item text (e.g. the generic layout without items.csv) the
  // content model describes each item by who consumed it in training instead:
  // LSA of the item x user matrix, a collaborative embedding. The content and
  // sequence sources and their features keep working; Search finds nothing.
  const bool any_metadata = std::any_of(data.item_info.begin(), data.item_info.end(),
                                        [](const ItemInfo& info) { return info.has_metadata; });
  if (!any_metadata) {
    LOG(WARNING) << "no item metadata: content model built from co-consumption "
                    "(item x user LSA); Search will return nothing";
  }
  ASSIGN_OR_RETURN(b->content, ContentModel::Fit(any_metadata ? data.item_info
                                                              : CoConsumptionDocuments(n, events),
                                                 options.content));
  ASSIGN_OR_RETURN(b->content_index, VectorIndex::Build(b->content.item_embeddings(), n,
                                                        b->content.dim(), options.index));
  ASSIGN_OR_RETURN(b->content_index_recall, TuneIndex(&b->content_index,
                                                      b->content.item_embeddings(), n,
                                                      b->content.dim()));
  LOG(INFO) << "fit content: dim " << b->content.dim() << ", vocabulary "
            << b->content.vocabulary_size() << ", " << IndexSummary(*b->content_index_recall)
            << " (" << Seconds(absl::Now() - t0) << ")";
  t0 = absl::Now();
  b->itemknn = ItemKnnModel::Fit(events, users, n, options.itemknn);
  times->itemknn = absl::Now() - t0;
  LOG(INFO) << "fit itemknn (" << Seconds(times->itemknn) << ")";
  t0 = absl::Now();
  b->als = AlsModel::Fit(events, users, n, options.als);
  ASSIGN_OR_RETURN(b->als_index, VectorIndex::Build(b->als.item_factors(), n, b->als.factors(),
                                                    options.index));
  ASSIGN_OR_RETURN(b->als_index_recall,
                   TuneIndex(&b->als_index, b->als.item_factors(), n, b->als.factors()));
  times->als = absl::Now() - t0;
  LOG(INFO) << "fit als: " << b->als.factors() << " factors, "
            << IndexSummary(*b->als_index_recall) << " (" << Seconds(times->als) << ")";
  if (options.ease && options.ease_max_items > 0) {
    t0 = absl::Now();
    ASSIGN_OR_RETURN(EaseModel ease, EaseModel::Fit(events, users, n, options.ease_lambda,
                                                    options.ease_keep, options.ease_max_items));
    b->ease = std::move(ease);
    LOG(INFO) << "fit ease: " << b->ease->num_items() << " items (" << Seconds(absl::Now() - t0)
              << ")";
  }
  if (options.slist) {
    t0 = absl::Now();
    SlistOptions so = options.slist_options;
    so.inputs = serving.slist_inputs;
    ASSIGN_OR_RETURN(SlistModel slist, SlistModel::Fit(events, users, n, so));
    b->slist = std::move(slist);
    LOG(INFO) << "fit slist: " << b->slist->weights().num_items() << " items ("
              << Seconds(absl::Now() - t0) << ")";
  }
  t0 = absl::Now();
  b->trending = TrendingModel(events, n, serving.trending_half_life_s);
  times->trending = absl::Now() - t0;
  b->markov = FitMarkovTransitions(events, users, n, options.markov_top_n);
  b->histories = UserHistories::FromEvents(data, events);
  return b;
}

}  // namespace recsys::offline
