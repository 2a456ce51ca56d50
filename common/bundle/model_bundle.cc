#include "common/bundle/model_bundle.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/bundle/bundle_files.h"
#include "common/bundle/registry.h"
#include "common/eval/list_metrics.h"
#include "common/features/features.h"
#include "common/models/csr.h"
#include "common/status.h"

namespace recsys {
namespace {

// The catalogue's item -> category pattern and the users' histories, as CSR.
CsrFiles CategoryFiles() { return {"items.category_offsets.arr", "items.category_ids.arr", ""}; }
CsrFiles HistoryFiles() {
  return {"histories.offsets.arr", "histories.items.arr", "histories.times.arr"};
}

void AddFiles(std::vector<std::string>* all, const std::vector<std::string>& more) {
  all->insert(all->end(), more.begin(), more.end());
}

// Serving params <-> manifest parameters ("serving.<name>").
void PutParams(const ServingParams& p, v1::BundleManifest* m) {
  auto& map = *m->mutable_parameters();
  map["serving.profile_half_life_s"] = absl::StrCat(p.profile_half_life_s);
  map["serving.trending_half_life_s"] = absl::StrCat(p.trending_half_life_s);
  map["serving.sequence_blend"] = absl::StrCat(p.sequence_blend);
  map["serving.sequence_window"] = absl::StrCat(p.sequence_window);
  map["serving.sequence_window_decay"] = absl::StrCat(p.sequence_window_decay);
  map["serving.max_pool"] = absl::StrCat(p.max_pool);
  map["serving.mmr_lambda"] = absl::StrCat(p.mmr_lambda);
  map["serving.itemknn_recency"] = absl::StrCat(p.itemknn_recency);
  map["serving.als_recency"] = absl::StrCat(p.als_recency);
  map["serving.ease_recency"] = absl::StrCat(p.ease_recency);
  map["serving.slist_window"] = absl::StrCat(p.slist_inputs.window);
  map["serving.slist_position_decay"] = absl::StrCat(p.slist_inputs.position_decay);
  map["serving.slist_time_tau_s"] = absl::StrCat(p.slist_inputs.time_tau_s);
  map["serving.slist_time_floor"] = absl::StrCat(p.slist_inputs.time_floor);
  for (int s = 0; s < kNumSources; ++s) {
    map[absl::StrCat("serving.quota.", SourceName(static_cast<SourceId>(s)))] =
        absl::StrCat(p.quotas[s]);
  }
}

absl::Status GetParams(const v1::BundleManifest& m, const std::string& dir, ServingParams* p) {
  const auto& map = m.parameters();
  auto get = [&](const std::string& key, auto* out) -> absl::Status {
    auto it = map.find(key);
    if (it == map.end()) {
      return absl::DataLossError(absl::StrCat(dir, "/manifest.json: missing parameter ", key));
    }
    bool ok;
    if constexpr (std::is_same_v<std::remove_pointer_t<decltype(out)>, int>) {
      ok = absl::SimpleAtoi(it->second, out);
    } else if constexpr (std::is_same_v<std::remove_pointer_t<decltype(out)>, float>) {
      ok = absl::SimpleAtof(it->second, out);
    } else {
      ok = absl::SimpleAtod(it->second, out);
    }
    if (!ok) {
      return absl::DataLossError(
          absl::StrCat(dir, "/manifest.json: bad value '", it->second, "' for ", key));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(get("serving.profile_half_life_s", &p->profile_half_life_s));
  RETURN_IF_ERROR(get("serving.trending_half_life_s", &p->trending_half_life_s));
  RETURN_IF_ERROR(get("serving.sequence_blend", &p->sequence_blend));
  RETURN_IF_ERROR(get("serving.sequence_window", &p->sequence_window));
  RETURN_IF_ERROR(get("serving.sequence_window_decay", &p->sequence_window_decay));
  RETURN_IF_ERROR(get("serving.max_pool", &p->max_pool));
  RETURN_IF_ERROR(get("serving.mmr_lambda", &p->mmr_lambda));
  RETURN_IF_ERROR(get("serving.itemknn_recency", &p->itemknn_recency));
  RETURN_IF_ERROR(get("serving.als_recency", &p->als_recency));
  RETURN_IF_ERROR(get("serving.ease_recency", &p->ease_recency));
  RETURN_IF_ERROR(get("serving.slist_window", &p->slist_inputs.window));
  RETURN_IF_ERROR(get("serving.slist_position_decay", &p->slist_inputs.position_decay));
  RETURN_IF_ERROR(get("serving.slist_time_tau_s", &p->slist_inputs.time_tau_s));
  RETURN_IF_ERROR(get("serving.slist_time_floor", &p->slist_inputs.time_floor));
  for (int s = 0; s < kNumSources; ++s) {
    RETURN_IF_ERROR(
        get(absl::StrCat("serving.quota.", SourceName(static_cast<SourceId>(s))), &p->quotas[s]));
  }
  if (!(p->profile_half_life_s > 0) || !(p->trending_half_life_s > 0)) {
    return absl::DataLossError(absl::StrCat(dir, "/manifest.json: half-lives must be positive"));
  }
  const SlistInputs& in = p->slist_inputs;
  if (in.window < 1 || in.window > 10000 || !std::isfinite(in.position_decay) ||
      !std::isfinite(in.time_tau_s) || !(in.time_floor >= 0 && in.time_floor <= 1)) {
    return absl::DataLossError(absl::StrCat(
        dir, "/manifest.json: SLIST inputs need window in 1..10000, finite decays and "
             "time_floor in [0, 1]"));
  }
  return absl::OkStatus();
}

}  // namespace

UserHistories UserHistories::FromEvents(const Dataset& data, std::span<const Interaction> events) {
  std::vector<std::vector<const Interaction*>> by_user(data.num_users());
  for (const Interaction& e : events) by_user[e.user].push_back(&e);
  UserHistories h;
  std::vector<int64_t> offsets = {0}, times;
  std::vector<ItemIndex> items;
  items.reserve(events.size());
  times.reserve(events.size());
  for (UserIndex u = 0; u < data.num_users(); ++u) {
    auto& list = by_user[u];
    if (list.empty()) continue;
    std::stable_sort(list.begin(), list.end(), [](const Interaction* a, const Interaction* b) {
      return a->timestamp_s < b->timestamp_s;
    });
    h.users.GetOrAdd(data.users.Name(u));
    for (const Interaction* e : list) {
      items.push_back(e->item);
      times.push_back(e->timestamp_s);
    }
    offsets.push_back(static_cast<int64_t>(items.size()));
  }
  h.offsets = std::move(offsets);
  h.items = std::move(items);
  h.times_s = std::move(times);
  return h;
}

void Catalogue::IndexCategories() {
  std::vector<int64_t> offsets = {0};
  std::vector<int32_t> flat;
  for (const std::vector<int32_t>& cats : categories) {
    flat.insert(flat.end(), cats.begin(), cats.end());
    offsets.push_back(static_cast<int64_t>(flat.size()));
  }
  category_offsets = std::move(offsets);
  category_flat = std::move(flat);
  category_index =
      CategoryIndex::Build(category_names, static_cast<int32_t>(categories.size()),
                           [this](ItemIndex i) { return std::span<const int32_t>(categories[i]); });
}

Catalogue BuildCatalogue(const Dataset& data, std::span<const Interaction> train) {
  Catalogue c;
  absl::flat_hash_map<std::string, int32_t> category_index;
  const int32_t n = data.num_items();
  c.titles.resize(n);
  c.categories.resize(n);
  std::vector<int64_t> release(n);
  for (ItemIndex i = 0; i < n; ++i) {
    c.ids.GetOrAdd(data.items.Name(i));
    const ItemInfo& info = data.item_info[i];
    c.titles[i] = info.title;
    release[i] = info.release_time_s;
    for (const std::string& name : info.categories) {
      auto [it, inserted] =
          category_index.try_emplace(name, static_cast<int32_t>(c.category_names.size()));
      if (inserted) c.category_names.push_back(name);
      c.categories[i].push_back(it->second);
    }
  }
  c.release_time_s = std::move(release);
  c.popularity = PopularityCounts(train, n);
  c.popularity_total = PopularityTotal(c.popularity);
  c.IndexCategories();
  return c;
}

absl::Status ModelBundle::Save(const std::string& dir, v1::BundleManifest* manifest) const {
  std::vector<std::string> files;
  const Catalogue& c = catalogue;
  const uint64_t n = static_cast<uint64_t>(c.size());
  RETURN_IF_ERROR(WriteStringArray(dir + "/items.ids.arr", c.ids.names()));
  RETURN_IF_ERROR(WriteStringArray(dir + "/items.titles.arr", c.titles));
  RETURN_IF_ERROR(WriteStringArray(dir + "/items.category_names.arr", c.category_names));
  std::vector<int64_t> cat_offsets = {0};
  std::vector<int32_t> cat_ids;
  for (ItemIndex i = 0; i < c.size(); ++i) {
    const std::span<const int32_t> cats = c.item_categories(i);
    cat_ids.insert(cat_ids.end(), cats.begin(), cats.end());
    cat_offsets.push_back(static_cast<int64_t>(cat_ids.size()));
  }
  RETURN_IF_ERROR(
      SaveCsrArrays<float>(dir, CategoryFiles(), cat_offsets, cat_ids, {}).status());
  RETURN_IF_ERROR(WriteInt64Array(dir + "/items.release.arr", {n}, c.release_time_s.data()));
  RETURN_IF_ERROR(WriteFloatArray(dir + "/items.popularity.arr", {n}, c.popularity.data()));

  ASSIGN_OR_RETURN(auto content_files, content.Save(dir));
  AddFiles(&files, content_files);
  RETURN_IF_ERROR(content_index.Save(dir + "/content.faiss"));
  ASSIGN_OR_RETURN(auto knn_files, itemknn.neighbors().Save(dir, CsrFiles::WithPrefix("itemknn")));
  AddFiles(&files, knn_files);
  ASSIGN_OR_RETURN(auto als_files, als.Save(dir));
  AddFiles(&files, als_files);
  RETURN_IF_ERROR(als_index.Save(dir + "/als.faiss"));
  if (ease) {
    ASSIGN_OR_RETURN(auto ease_files, ease->Save(dir));
    AddFiles(&files, ease_files);
  }
  if (slist) {
    ASSIGN_OR_RETURN(auto slist_files, slist->Save(dir));
    AddFiles(&files, slist_files);
  }
  const std::span<const int64_t> ts = trending.event_times();
  const std::span<const ItemIndex> items = trending.event_items();
  RETURN_IF_ERROR(WriteInt64Array(dir + "/trending.times.arr", {ts.size()}, ts.data()));
  RETURN_IF_ERROR(WriteInt32Array(dir + "/trending.items.arr", {items.size()}, items.data()));
  ASSIGN_OR_RETURN(auto markov_files, markov.Save(dir, CsrFiles::WithPrefix("markov")));
  AddFiles(&files, markov_files);
  const UserHistories& h = histories;
  RETURN_IF_ERROR(WriteStringArray(dir + "/histories.users.arr", h.users.names()));
  RETURN_IF_ERROR(
      SaveCsrArrays<int64_t>(dir, HistoryFiles(), h.offsets, h.items, h.times_s).status());
  ASSIGN_OR_RETURN(auto ranker_files, ranker.Save(dir));
  AddFiles(&files, ranker_files);

  PutParams(params, manifest);
  (*manifest->mutable_parameters())["bundle.has_ease"] = ease ? "1" : "0";
  (*manifest->mutable_parameters())["bundle.has_slist"] = slist ? "1" : "0";
  for (const auto& [name, recall] :
       {std::pair{"content", &content_index_recall}, std::pair{"als", &als_index_recall}}) {
    if (!recall->has_value()) continue;
    for (auto& [key, value] : IndexRecallParams(name, **recall)) {
      (*manifest->mutable_parameters())[key] = value;
    }
  }
  (*manifest->mutable_parameters())["bundle.num_features"] = absl::StrCat(kNumFeatures);
  manifest->set_num_items(n);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ModelBundle>> ModelBundle::Load(const std::string& dir,
                                                                     BundleParts parts,
                                                                     ShardSpec shard) {
  const bool serving = parts != BundleParts::kGateway;
  auto b = std::make_shared<ModelBundle>();
  ASSIGN_OR_RETURN(b->manifest, ReadManifest(dir));
  // Every array file mapped and verified once; the loaders take these views.
  BundleFiles files(dir, /*verified_only=*/true);
  RETURN_IF_ERROR(VerifyBundle(dir, b->manifest, &files));
  RETURN_IF_ERROR(GetParams(b->manifest, dir, &b->params));
  const auto& map = b->manifest.parameters();
  auto nf = map.find("bundle.num_features");
  if (nf == map.end() || nf->second != absl::StrCat(kNumFeatures)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": bundle has ", nf == map.end() ? "no" : nf->second,
        " ranker features, this build computes ", kNumFeatures, " (retrain the bundle)"));
  }

  Catalogue& c = b->catalogue;
  ASSIGN_OR_RETURN(auto ids, files.ReadStrings("items.ids.arr"));
  for (const std::string& id : ids) c.ids.GetOrAdd(id);
  const int32_t n = c.size();
  if (static_cast<size_t>(n) != ids.size()) {
    return absl::DataLossError(dir + "/items.ids.arr: duplicate item ids");
  }
  ASSIGN_OR_RETURN(c.titles, files.ReadStrings("items.titles.arr"));
  ASSIGN_OR_RETURN(c.category_names, files.ReadStrings("items.category_names.arr"));
  // A sparsity pattern: item i's category indices, no values.
  ASSIGN_OR_RETURN(Csr<float> cats,
                   Csr<float>::Map(files, CategoryFiles(),
                                   CsrShape::Exact(n, c.category_names.size())));
  ASSIGN_OR_RETURN(c.release_time_s, files.MapVector<int64_t>("items.release.arr"));
  ASSIGN_OR_RETURN(c.popularity, files.MapVector<float>("items.popularity.arr"));
  if (c.titles.size() != ids.size() || c.release_time_s.size() != ids.size() ||
      c.popularity.size() != ids.size()) {
    return absl::DataLossError(absl::StrCat(dir, "/items.*.arr: catalogue arrays disagree in size"));
  }
  c.popularity_total = PopularityTotal(c.popularity);
  c.category_offsets = std::move(cats.offsets);
  c.category_flat = std::move(cats.ids);
  c.category_index =
      CategoryIndex::Build(c.category_names, n, [&c](ItemIndex i) { return c.item_categories(i); });

  // The ef_search the trainer chose for an HNSW index (absent in older
  // bundles and for flat indexes: the default).
  auto index_options = [&](const std::string& name) -> absl::StatusOr<VectorIndexOptions> {
    VectorIndexOptions options;
    auto it = map.find(IndexEfSearchKey(name));
    if (it != map.end() && (!absl::SimpleAtoi(it->second, &options.hnsw_ef_search) ||
                            options.hnsw_ef_search < 0 || options.hnsw_ef_search > 1 << 16)) {
      return absl::DataLossError(absl::StrCat(dir, "/manifest.json: ", it->first, " = \"",
                                              it->second, "\" is not an ef_search"));
    }
    it = map.find(IndexKindKey(name));
    options.flat_by_norm = it != map.end() && it->second == "pruned";
    return options;
  };
  if (serving) {
    ASSIGN_OR_RETURN(b->content, ContentModel::Load(files));
    ASSIGN_OR_RETURN(const VectorIndexOptions content_options, index_options("content"));
    ASSIGN_OR_RETURN(b->content_index,
                     VectorIndex::Load(dir + "/content.faiss", content_options));
    ASSIGN_OR_RETURN(auto knn, SparseNeighbors::Map(files, CsrFiles::WithPrefix("itemknn"),
                                                    CsrShape::Exact(n, n)));
    b->itemknn = ItemKnnModel(std::move(knn));
    ASSIGN_OR_RETURN(b->als, AlsModel::Load(files));
    ASSIGN_OR_RETURN(const VectorIndexOptions als_options, index_options("als"));
    ASSIGN_OR_RETURN(b->als_index, VectorIndex::Load(dir + "/als.faiss", als_options));
    if (map.count("bundle.has_ease") && map.at("bundle.has_ease") == "1") {
      ASSIGN_OR_RETURN(EaseModel ease, EaseModel::Load(dir));
      b->ease = std::move(ease);
    }
    if (map.count("bundle.has_slist") && map.at("bundle.has_slist") == "1") {
      ASSIGN_OR_RETURN(SlistModel slist, SlistModel::Load(dir, b->params.slist_inputs));
      b->slist = std::move(slist);
    }
  }
  ASSIGN_OR_RETURN(auto ts, ReadInt64Array(dir + "/trending.times.arr"));
  ASSIGN_OR_RETURN(auto titems, ReadInt32Array(dir + "/trending.items.arr"));
  if (ts.values.size() != titems.values.size()) {
    return absl::DataLossError(dir + "/trending.*.arr: arrays disagree in size");
  }
  std::vector<Interaction> events;
  events.reserve(ts.values.size());
  for (size_t i = 0; i < ts.values.size(); ++i) {
    if (titems.values[i] < 0 || titems.values[i] >= n) {
      return absl::DataLossError(dir + "/trending.items.arr: item out of range");
    }
    events.push_back(Interaction{0, titems.values[i], ts.values[i], 1.0f});
  }
  b->trending = TrendingModel(events, n, b->params.trending_half_life_s);
  if (!serving) {
    // The gateway's list diversity compares served items' content embeddings.
    ASSIGN_OR_RETURN(b->content, ContentModel::LoadItemEmbeddings(files));
    if (b->content.num_items() != n) {
      return absl::DataLossError(absl::StrCat(dir, ": content embeddings for ",
                                              b->content.num_items(), " items, catalogue of ", n));
    }
    UserHistories& h = b->histories;
    ASSIGN_OR_RETURN(auto users, files.ReadStrings("histories.users.arr"));
    for (const std::string& u : users) h.users.GetOrAdd(u);
    if (static_cast<size_t>(h.users.size()) != users.size()) {
      return absl::DataLossError(dir + "/histories.users.arr: duplicate user ids");
    }
    // Per user (oldest first): item indices with their event times.
    ASSIGN_OR_RETURN(Csr<int64_t> events,
                     Csr<int64_t>::Map(files, HistoryFiles(), CsrShape::Exact(users.size(), n)));
    h.offsets = std::move(events.offsets);
    h.items = std::move(events.ids);
    h.times_s = std::move(events.values);
    return std::shared_ptr<const ModelBundle>(std::move(b));
  }
  ASSIGN_OR_RETURN(b->markov,
                   MarkovTransitions::Map(files, CsrFiles::WithPrefix("markov"),
                                          CsrShape::Exact(n, n)));
  ASSIGN_OR_RETURN(b->ranker, LogisticRanker::Load(dir, kNumFeatures));

  // Cross-model consistency.
  if (b->content.num_items() != n || b->als.num_items() != n || b->content_index.size() != n ||
      b->als_index.size() != n || b->content_index.dim() != b->content.dim() ||
      b->als_index.dim() != b->als.factors() || (b->ease && !b->ease->FitsCatalogue(n)) ||
      (b->slist && !b->slist->weights().FitsCatalogue(n))) {
    return absl::DataLossError(absl::StrCat(dir, ": models disagree on the catalogue size (", n,
                                            " items) or dimensions"));
  }
  if (parts == BundleParts::kRetrieval) {
    b->lexical_index = LexicalIndex::Build(c.titles, c.category_names,
                                           [&c](ItemIndex i) { return c.item_categories(i); });
  }
  if (shard.sharded()) {
    ASSIGN_OR_RETURN(CatalogueShard built, CatalogueShard::Build(shard, c.ids, b->content_index,
                                                                 b->als_index));
    if (built.has_sliced(CatalogueShard::Index::kAls)) b->als_index = VectorIndex();
    b->shard = std::make_shared<const CatalogueShard>(std::move(built));
  }
  return std::shared_ptr<const ModelBundle>(std::move(b));
}

}  // namespace recsys
