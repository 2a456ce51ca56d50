#include "offline/bundle_manifest.h"

#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/io/sha256.h"

namespace recsys::offline {
namespace {

// Every hyper-parameter the bundle was trained with, as manifest parameters.
void RecordParams(const TrainOptions& o, v1::BundleManifest* m) {
  auto& p = *m->mutable_parameters();
  p["seed"] = absl::StrCat(o.seed);
  p["k"] = absl::StrCat(o.k);
  p["content.dim"] = absl::StrCat(o.content.dim);
  p["content.min_df"] = absl::StrCat(o.content.min_df);
  p["itemknn.neighbors"] = absl::StrCat(o.itemknn.neighbors);
  p["itemknn.shrink"] = absl::StrCat(o.itemknn.shrink);
  p["als.factors"] = absl::StrCat(o.als.factors);
  p["als.reg"] = absl::StrCat(o.als.reg);
  p["als.alpha"] = absl::StrCat(o.als.alpha);
  p["als.iterations"] = absl::StrCat(o.als.iterations);
  p["ease.enabled"] = o.ease ? "1" : "0";
  p["ease.lambda"] = absl::StrCat(o.ease_lambda);
  p["ease.keep"] = absl::StrCat(o.ease_keep);
  p["markov.top_n"] = absl::StrCat(o.markov_top_n);
  p["ranker.l2"] = absl::StrCat(o.ranker.l2);
  p["tune_budget_s"] = absl::StrCat(absl::ToDoubleSeconds(o.tune_budget));
}

}  // namespace

std::string DataFingerprint(const LoadReport& report) {
  std::string all;
  for (const std::string& f : report.files) {
    auto sha = Sha256File(f);
    absl::StrAppend(&all, f.substr(f.find_last_of('/') + 1), ":", sha.ok() ? *sha : "?", ";");
  }
  return Sha256Hex(all);
}

void FillManifest(const TrainOptions& options, const Dataset& data, const TrainingOutcome& outcome,
                  absl::Time now, v1::BundleManifest* manifest) {
  RecordParams(options, manifest);
  manifest->set_format_version(kBundleFormatVersion);
  manifest->set_name(options.name);
  manifest->set_version(
      NewVersionId(now, options.seed ^ static_cast<uint64_t>(absl::ToUnixNanos(now))));
  manifest->set_created_at(absl::FormatTime(absl::RFC3339_sec, now, absl::UTCTimeZone()));
  manifest->set_kind(options.production ? "production" : "evaluation");
  manifest->set_data_fingerprint(DataFingerprint(data.report));
  manifest->set_data_format(DataFormatName(data.report.format));
  manifest->set_num_users(data.num_users());
  manifest->set_num_items(data.num_items());
  manifest->set_num_interactions(outcome.num_interactions >= 0
                                     ? outcome.num_interactions
                                     : static_cast<int64_t>(data.interactions.size()));
  manifest->set_ranker_auc(outcome.ranker_auc);
  for (const LeaderboardRow& r : outcome.leaderboard) {
    v1::LeaderboardRow* p = manifest->add_leaderboard();
    p->set_split(r.split);
    p->set_model(r.model);
    p->set_k(r.k);
    p->set_recall(r.recall);
    p->set_ndcg(r.ndcg);
    p->set_map(r.map);
    p->set_coverage(r.coverage);
    p->set_users(r.users);
  }
  manifest->set_train_seconds(outcome.train_seconds);
}

}  // namespace recsys::offline
