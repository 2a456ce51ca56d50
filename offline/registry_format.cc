#include "offline/registry_format.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace recsys::offline {
namespace {

std::string Metric(double v) { return absl::StrFormat("%.4f", v); }
std::string Delta(double d) { return absl::StrFormat("%+.4f", d); }

}  // namespace

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatVersionList(const std::vector<v1::BundleManifest>& versions,
                              const std::string& production, const std::string& model_dir) {
  std::string out = absl::StrFormat("  %-26s %-11s %-25s %s\n", "VERSION", "KIND", "CREATED",
                                    "TEST two_stage NDCG@10");
  for (const v1::BundleManifest& m : versions) {
    const std::optional<double> ndcg = LeaderboardNdcg(m, kGateModel);
    const bool is_prod = !production.empty() && production == m.version();
    absl::StrAppend(&out, absl::StrFormat("%s %-26s %-11s %-25s %s\n", is_prod ? "*" : " ",
                                          m.version(), m.kind().empty() ? "-" : m.kind(),
                                          m.created_at().empty() ? "-" : m.created_at(),
                                          ndcg ? absl::StrFormat("%.4f", *ndcg) : "-"));
  }
  if (versions.empty()) absl::StrAppend(&out, "(no versions in ", model_dir, ")\n");
  return out;
}

std::string FormatComparison(const std::string& name, const std::string& a, const std::string& b,
                             const v1::BundleManifest& ma, const v1::BundleManifest& mb) {
  std::string out = absl::StrCat("compare ", name, ": A = ", a, ", B = ", b,
                                 " ('*' marks a difference)\n\n");

  std::vector<std::vector<std::string>> rows = {{"field", "A", "B", ""}};
  auto add = [&rows](const std::string& field, const std::string& va, const std::string& vb) {
    rows.push_back({field, va, vb, va == vb ? "" : "*"});
  };
  add("kind", ma.kind(), mb.kind());
  add("created_at", ma.created_at(), mb.created_at());
  add("data_fingerprint", ma.data_fingerprint(), mb.data_fingerprint());
  add("data_format", ma.data_format(), mb.data_format());
  add("num_users", absl::StrCat(ma.num_users()), absl::StrCat(mb.num_users()));
  add("num_items", absl::StrCat(ma.num_items()), absl::StrCat(mb.num_items()));
  add("num_interactions", absl::StrCat(ma.num_interactions()),
      absl::StrCat(mb.num_interactions()));
  add("train_seconds", absl::StrFormat("%.1f", ma.train_seconds()),
      absl::StrFormat("%.1f", mb.train_seconds()));
  add("ranker_auc", Metric(ma.ranker_auc()), Metric(mb.ranker_auc()));
  std::map<std::string, std::pair<std::string, std::string>> params;
  for (const auto& [k, v] : ma.parameters()) params[k].first = v;
  for (const auto& [k, v] : mb.parameters()) params[k].second = v;
  for (const auto& [k, v] : params) {
    add(absl::StrCat("param ", k), ma.parameters().count(k) ? v.first : "-",
        mb.parameters().count(k) ? v.second : "-");
  }
  absl::StrAppend(&out, FormatTable(rows), "\n");

  // Leaderboard rows keyed by (split, model, k), in A's order then B-only rows.
  using Key = std::tuple<std::string, std::string, int>;
  std::vector<Key> keys;
  std::map<Key, const v1::LeaderboardRow*> ra, rb;
  for (const auto& r : ma.leaderboard()) {
    Key key{r.split(), r.model(), r.k()};
    if (ra.emplace(key, &r).second) keys.push_back(key);
  }
  for (const auto& r : mb.leaderboard()) {
    Key key{r.split(), r.model(), r.k()};
    if (rb.emplace(key, &r).second && !ra.count(key)) keys.push_back(key);
  }
  rows = {{"split", "model", "k", "metric", "A", "B", "B-A"}};
  for (const Key& key : keys) {
    const v1::LeaderboardRow* x = ra.count(key) ? ra[key] : nullptr;
    const v1::LeaderboardRow* y = rb.count(key) ? rb[key] : nullptr;
    const std::pair<const char*, double (v1::LeaderboardRow::*)() const> metrics[] = {
        {"ndcg", &v1::LeaderboardRow::ndcg},
        {"recall", &v1::LeaderboardRow::recall},
        {"map", &v1::LeaderboardRow::map},
        {"coverage", &v1::LeaderboardRow::coverage}};
    bool first = true;
    for (const auto& [metric, getter] : metrics) {
      std::vector<std::string> row;
      if (first) {
        row = {std::get<0>(key), std::get<1>(key), absl::StrCat(std::get<2>(key))};
      } else {
        row = {"", "", ""};
      }
      first = false;
      row.push_back(metric);
      row.push_back(x ? Metric((x->*getter)()) : "-");
      row.push_back(y ? Metric((y->*getter)()) : "-");
      row.push_back(x && y ? Delta((y->*getter)() - (x->*getter)()) : "-");
      rows.push_back(std::move(row));
    }
  }
  if (keys.empty()) {
    absl::StrAppend(&out, "(no leaderboard rows)\n");
  } else {
    absl::StrAppend(&out, FormatTable(rows));
  }
  return out;
}

absl::StatusOr<std::string> CompareVersions(const Registry& reg, const std::string& a,
                                            const std::string& b) {
  ASSIGN_OR_RETURN(v1::BundleManifest ma, reg.RunRecordOrManifest(a));
  ASSIGN_OR_RETURN(v1::BundleManifest mb, reg.RunRecordOrManifest(b));
  return FormatComparison(reg.name(), a, b, ma, mb);
}

std::string FormatGcResult(const Registry::GcResult& result, bool dry_run) {
  std::string out;
  for (const std::string& v : result.removed) {
    absl::StrAppend(&out, dry_run ? "would remove " : "removed ", v, "\n");
  }
  absl::StrAppend(&out, absl::StrFormat("%s %d, kept %d, %.1f MB %s\n",
                                        dry_run ? "would remove" : "removed",
                                        result.removed.size(), result.kept.size(),
                                        result.bytes / 1e6, dry_run ? "to free" : "freed"));
  return out;
}

}  // namespace recsys::offline
