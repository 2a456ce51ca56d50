#include "offline/registry_format.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/bundle/array_file.h"
#include "common/bundle/registry.h"

namespace recsys::offline {
namespace {

namespace fs = std::filesystem;

void AddRow(v1::BundleManifest* m, const std::string& model, double ndcg) {
  v1::LeaderboardRow* row = m->add_leaderboard();
  row->set_split("test");
  row->set_model(model);
  row->set_k(10);
  row->set_ndcg(ndcg);
  row->set_recall(ndcg * 2);
}

class RegistryFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "registry_format_test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = templ;
    reg_ = std::make_unique<Registry>(root_, "movielens");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Commits `version` holding one small array, with optional test NDCG@10 rows.
  void Commit(const std::string& version, std::optional<double> two_stage,
              std::optional<double> als = std::nullopt) {
    auto staging = reg_->BeginVersion();
    ASSERT_TRUE(staging.ok()) << staging.status();
    ASSERT_TRUE(WriteStringArray(*staging + "/titles.arr", {"a", version}).ok());
    v1::BundleManifest m;
    m.set_version(version);
    m.set_kind("evaluation");
    if (two_stage) AddRow(&m, "two_stage", *two_stage);
    if (als) AddRow(&m, "als", *als);
    const absl::Status s = reg_->CommitVersion(*staging, m);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string root_;
  std::unique_ptr<Registry> reg_;
};

// Compare shows parameter differences (from the run records) and metric deltas.
TEST_F(RegistryFormatTest, CompareFromRunRecords) {
  Commit("v1", 0.30);
  Commit("v2", 0.31);
  v1::BundleManifest r1 = *reg_->Show("v1");
  r1.mutable_parameters()->insert({"als_factors", "64"});
  r1.mutable_parameters()->insert({"seed", "42"});
  ASSERT_TRUE(reg_->AppendRunRecord(r1).ok());
  v1::BundleManifest r2 = *reg_->Show("v2");
  r2.mutable_parameters()->insert({"als_factors", "128"});
  r2.mutable_parameters()->insert({"seed", "42"});
  ASSERT_TRUE(reg_->AppendRunRecord(r2).ok());

  auto table = CompareVersions(*reg_, "v1", "v2");
  ASSERT_TRUE(table.ok()) << table.status();
  bool factors_marked = false, seed_unmarked = false;
  for (absl::string_view line : absl::StrSplit(*table, '\n')) {
    if (absl::StrContains(line, "param als_factors")) {
      factors_marked = absl::StrContains(line, "64") && absl::StrContains(line, "128") &&
                       absl::EndsWith(line, "*");
    }
    if (absl::StrContains(line, "param seed")) seed_unmarked = !absl::EndsWith(line, "*");
  }
  EXPECT_TRUE(factors_marked) << *table;
  EXPECT_TRUE(seed_unmarked) << *table;
  EXPECT_NE(table->find("two_stage"), std::string::npos) << *table;
  EXPECT_NE(table->find("+0.0100"), std::string::npos) << *table;

  EXPECT_TRUE(absl::IsNotFound(CompareVersions(*reg_, "v1", "v9").status()));
}

// Without run records Compare falls back to the manifests.
TEST_F(RegistryFormatTest, CompareFromManifests) {
  Commit("v1", 0.30);
  Commit("v2", 0.25, /*als=*/0.2);
  auto table = CompareVersions(*reg_, "v1", "v2");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_NE(table->find("-0.0500"), std::string::npos) << *table;
  EXPECT_NE(table->find("als"), std::string::npos) << *table;
}

// The comparison's exact layout: title, padded field table, leaderboard rows.
TEST(RegistryFormat, ComparisonLayout) {
  v1::BundleManifest a, b;
  a.set_kind("evaluation");
  b.set_kind("production");
  AddRow(&a, "two_stage", 0.5);
  const std::string text = FormatComparison("ml", "v1", "v2", a, b);
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], "compare ml: A = v1, B = v2 ('*' marks a difference)");
  EXPECT_EQ(lines[1], "");
  EXPECT_EQ(lines[2], "field             A           B");
  EXPECT_EQ(lines[3], "kind              evaluation  production  *");
  EXPECT_NE(text.find("test   two_stage  10  ndcg      0.5000  -  -"), std::string::npos) << text;
}

// Columns are padded to the widest cell, two spaces apart, with no trailing blanks.
TEST(RegistryFormat, TablePadsColumns) {
  EXPECT_EQ(FormatTable({{"a", "bb", ""}, {"ccc", "d", "e"}}), "a    bb\nccc  d   e\n");
  EXPECT_EQ(FormatTable({}), "");
}

// `list` marks production with '*', shows '-' for missing fields, and says when it is empty.
TEST(RegistryFormat, VersionList) {
  v1::BundleManifest m1, m2;
  m1.set_version("v1");
  m1.set_kind("evaluation");
  m1.set_created_at("2026-11-29T03:45:00Z");
  AddRow(&m1, "two_stage", 0.31234);
  m2.set_version("v2");
  const std::string text = FormatVersionList({m1, m2}, "v1", "reg/ml");
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_EQ(lines.size(), 4u) << text;
  EXPECT_EQ(lines[0],
            "  VERSION                    KIND        CREATED                   TEST two_stage "
            "NDCG@10");
  EXPECT_EQ(lines[1], "* v1                         evaluation  2026-11-29T03:45:00Z      0.3123");
  EXPECT_EQ(lines[2], "  v2                         -           -                         -");
  EXPECT_TRUE(absl::EndsWith(FormatVersionList({}, "", "reg/ml"), "(no versions in reg/ml)\n"));
}

// The paired table: a paired row with its verdict and matched cases, an
// unpaired row labelled and explained, and a side without per-case results.
TEST(RegistryFormat, PairedComparisonTable) {
  auto section = [](const std::string& split, uint64_t first_key, int hits) {
    CaseSection s;
    s.split = split;
    CaseColumn c{"two_stage", 10, {}, {}};
    for (int i = 0; i < 100; ++i) {
      s.keys.push_back(first_key + i);
      c.recall.push_back(i < hits ? 1.0f : 0.0f);
      c.ndcg.push_back(i < hits ? 1.0f : 0.0f);
    }
    s.columns.push_back(c);
    return s;
  };
  CaseResults a, b;
  a.sections = {section("test", 1, 30), section("validation", 1, 30)};
  // Test: the same cases, 20 more hits. Validation: other cases.
  b.sections = {section("test", 1, 50), section("validation", 1000, 31)};
  v1::BundleManifest ma, mb;
  (*ma.mutable_parameters())["ranker.final"] = "ranker";
  const std::string text = FormatPairedComparison(ma, mb, {&a, ""}, {&b, ""});
  EXPECT_TRUE(absl::StrContains(text, "ranker.final A: ranker, B: -")) << text;
  EXPECT_TRUE(absl::StrContains(text, "test        two_stage  10  ndcg    0.3000  0.5000  +0.2000"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "better")) << text;
  EXPECT_TRUE(absl::StrContains(text, "paired, 100 matched (A 100, B 100)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "unpaired, 0 matched (A 100, B 100)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "validation two_stage: the evaluated cases differ")) << text;

  const std::string missing =
      FormatPairedComparison(ma, mb, {nullptr, "its manifest lists no leaderboard.cases"}, {&b, ""});
  EXPECT_TRUE(absl::StrContains(missing, "not compared")) << missing;
  EXPECT_TRUE(absl::StrContains(
      missing, "test two_stage: A has no per-case results (its manifest lists no "
               "leaderboard.cases)"))
      << missing;
}

// The gc summary lists what was removed and the totals, worded for a dry run or not.
TEST(RegistryFormat, GcResult) {
  Registry::GcResult r;
  r.removed = {"v1", ".staging-x"};
  r.kept = {"v2"};
  r.bytes = 2500000;
  EXPECT_EQ(FormatGcResult(r, /*dry_run=*/true),
            "would remove v1\nwould remove .staging-x\nwould remove 2, kept 1, 2.5 MB to free\n");
  EXPECT_EQ(FormatGcResult(r, /*dry_run=*/false),
            "removed v1\nremoved .staging-x\nremoved 2, kept 1, 2.5 MB freed\n");
}

}  // namespace
}  // namespace recsys::offline
