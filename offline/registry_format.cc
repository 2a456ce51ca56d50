#include "offline/registry_format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/bundle/promotion_gate.h"
#include "common/eval/paired_comparison.h"
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

std::vector<std::pair<std::string, std::string>> PairedComparisonRows() {
  return {{kGateSplit, kGateModel}, {"validation", kGateModel}};
}

std::string FormatPairedComparison(const v1::BundleManifest& ma, const v1::BundleManifest& mb,
                                   const ComparisonCases& ca, const ComparisonCases& cb) {
  std::string out = absl::StrCat(
      "paired comparison, B - A with its 95% interval (cases matched by user, target item and "
      "time; ",
      kGateModel, " is the served list");
  const auto final_a = ma.parameters().find("ranker.final");
  const auto final_b = mb.parameters().find("ranker.final");
  if (final_a != ma.parameters().end() || final_b != mb.parameters().end()) {
    absl::StrAppend(&out, ", ranker.final A: ",
                    final_a != ma.parameters().end() ? final_a->second : "-",
                    ", B: ", final_b != mb.parameters().end() ? final_b->second : "-");
  }
  absl::StrAppend(&out, ")\n");
  std::vector<std::vector<std::string>> rows = {
      {"split", "model", "k", "metric", "A", "B", "B-A", "95% interval", "verdict", "cases"}};
  std::vector<std::string> notes;
  for (const auto& [split, model] : PairedComparisonRows()) {
    const std::string k = absl::StrCat(kGateK);
    std::optional<CaseRowView> ra, rb;
    if (ca.results) ra = ca.results->Find(split, model, kGateK);
    if (cb.results) rb = cb.results->Find(split, model, kGateK);
    if (!ra || !rb) {
      std::vector<std::string> why;
      for (const auto& [side, cases, row] :
           {std::tuple{"A", &ca, &ra}, std::tuple{"B", &cb, &rb}}) {
        if (row->has_value()) continue;
        why.push_back(cases->results == nullptr
                          ? absl::StrCat(side, " has no per-case results (", cases->missing, ")")
                          : absl::StrCat(side, "'s per-case results have no such row"));
      }
      rows.push_back({split, model, k, "-", "", "", "", "", "not compared", ""});
      notes.push_back(absl::StrCat(split, " ", model, ": ", absl::StrJoin(why, "; ")));
      continue;
    }
    const RowComparison c = CompareRows(*ra, *rb);
    const std::string cases =
        c.paired ? absl::StrCat("paired, ", c.matched, " matched (A ", c.cases_a, ", B ",
                                c.cases_b, ")")
                 : absl::StrCat("unpaired, ", c.matched, " matched (A ", c.cases_a, ", B ",
                                c.cases_b, ")");
    bool first = true;
    for (const auto& [metric, d] : {std::pair{"ndcg", &c.ndcg}, std::pair{"recall", &c.recall}}) {
      std::vector<std::string> row;
      if (first) {
        row = {split, model, k};
      } else {
        row = {"", "", ""};
      }
      row.push_back(metric);
      row.push_back(Metric(d->mean_a));
      row.push_back(Metric(d->mean_b));
      row.push_back(Delta(d->difference));
      row.push_back(std::isfinite(d->low) && std::isfinite(d->high)
                        ? absl::StrCat("[", Delta(d->low), ", ", Delta(d->high), "]")
                        : std::string("(too few cases)"));
      row.push_back(VerdictName(d->verdict()));
      row.push_back(first ? cases : "");
      rows.push_back(std::move(row));
      first = false;
    }
    if (!c.paired) {
      notes.push_back(absl::StrCat(
          split, " ", model,
          ": the evaluated cases differ (other data, split or sample): unpaired difference of "
          "the means over each side's own cases, the two intervals combined"));
    }
  }
  absl::StrAppend(&out, FormatTable(rows));
  for (const std::string& note : notes) absl::StrAppend(&out, "  ", note, "\n");
  return out;
}

absl::StatusOr<std::string> CompareVersions(const Registry& reg, const std::string& a,
                                            const std::string& b) {
  ASSIGN_OR_RETURN(v1::BundleManifest ma, reg.RunRecordOrManifest(a));
  ASSIGN_OR_RETURN(v1::BundleManifest mb, reg.RunRecordOrManifest(b));
  std::string out = FormatComparison(reg.name(), a, b, ma, mb);
  // Per-case results come from the bundle directory, checked against the
  // bundle's own manifest (run records carry no file list).
  std::optional<CaseResults> storage[2];
  ComparisonCases cases[2];
  const std::string versions[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<v1::BundleManifest> m = reg.Show(versions[i]);
    if (!m.ok()) {
      cases[i].missing = absl::StrCat("no bundle: ", m.status().message());
      continue;
    }
    absl::StatusOr<std::optional<CaseResults>> read =
        ReadBundleCaseResults(reg.VersionDir(versions[i]), *m);
    if (!read.ok()) {
      cases[i].missing = std::string(read.status().message());
    } else if (!read->has_value()) {
      cases[i].missing = absl::StrCat("its manifest lists no ", kCaseResultsFileName);
    } else {
      storage[i] = std::move(*read);
      cases[i].results = &*storage[i];
    }
  }
  absl::StrAppend(&out, "\n", FormatPairedComparison(ma, mb, cases[0], cases[1]));
  return out;
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
