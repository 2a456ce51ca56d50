#include "common/bundle/promotion_gate.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/bundle/registry.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

void AddRow(v1::BundleManifest* m, const std::string& model, double ndcg) {
  v1::LeaderboardRow* row = m->add_leaderboard();
  row->set_split("test");
  row->set_model(model);
  row->set_k(10);
  row->set_ndcg(ndcg);
}

// Per-case results of a test two_stage row over `n` cases keyed 1..n: case
// i is a hit (NDCG 1) when i % 10 < hits_per_10, plus `extra` more hits among
// the first misses; keys offset by `key_offset`.
CaseResults Cases(int n, int hits_per_10, int extra = 0, uint64_t key_offset = 0) {
  CaseSection s;
  s.split = "test";
  CaseColumn c{"two_stage", 10, {}, {}};
  for (int i = 0; i < n; ++i) {
    s.keys.push_back(key_offset + i + 1);
    bool hit = i % 10 < hits_per_10;
    if (!hit && extra > 0) {
      hit = true;
      --extra;
    }
    c.recall.push_back(hit ? 1.0f : 0.0f);
    c.ndcg.push_back(hit ? 1.0f : 0.0f);
  }
  s.columns.push_back(std::move(c));
  CaseResults r;
  r.sections.push_back(std::move(s));
  return r;
}

double MeanNdcg(const CaseResults& r) {
  double sum = 0;
  const auto row = r.Find("test", "two_stage", 10);
  for (float v : row->ndcg) sum += v;
  return sum / row->size();
}

v1::BundleManifest ManifestFor(const CaseResults& r) {
  v1::BundleManifest m;
  AddRow(&m, "two_stage", MeanNdcg(r));
  return m;
}

// Significantly worse (paired): refused, naming the difference, the interval
// and the number of paired cases.
TEST(PromotionGate, SignificantlyWorseIsRefused) {
  const CaseResults prod = Cases(500, 3, /*extra=*/40);
  const CaseResults cand = Cases(500, 3);
  const v1::BundleManifest mp = ManifestFor(prod), mc = ManifestFor(cand);
  const GateDecision d = DecidePromotion(GateSide{"cand", &mc, &cand, ""},
                                         GateSide{"prod", &mp, &prod, ""});
  EXPECT_FALSE(d.allow);
  ASSERT_TRUE(d.comparison.has_value());
  EXPECT_TRUE(d.comparison->paired);
  EXPECT_EQ(d.comparison->ndcg.verdict(), Verdict::kWorse);
  EXPECT_TRUE(absl::StartsWith(d.message, "refusing to promote cand: ")) << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "significantly lower than production prod's"))
      << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "difference -0.0800, 95% interval [")) << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "over 500 paired cases")) << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "use --force")) << d.message;
}

// A lower figure within the noise is allowed, though the raw rule would refuse it.
TEST(PromotionGate, NoiseIsAllowed) {
  const CaseResults prod = Cases(500, 3, /*extra=*/2);
  const CaseResults cand = Cases(500, 3);
  const v1::BundleManifest mp = ManifestFor(prod), mc = ManifestFor(cand);
  ASSERT_LT(MeanNdcg(cand), MeanNdcg(prod));
  const GateDecision d = DecidePromotion(GateSide{"cand", &mc, &cand, ""},
                                         GateSide{"prod", &mp, &prod, ""});
  EXPECT_TRUE(d.allow) << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "difference -0.0040")) << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "500 paired cases")) << d.message;
  EXPECT_TRUE(absl::StrContains(d.message, "no significant difference")) << d.message;
  EXPECT_FALSE(DecideByRawDifference(GateSide{"cand", &mc, nullptr, ""},
                                     GateSide{"prod", &mp, nullptr, ""}, "test")
                   .allow);
  // Better is allowed and says so.
  const GateDecision up = DecidePromotion(GateSide{"prod", &mp, &prod, ""},
                                          GateSide{"cand", &mc, &cand, ""});
  EXPECT_TRUE(up.allow);
}

// Without per-case results on either side (an older bundle), the raw rule
// decides and the message says so.
TEST(PromotionGate, OldBundleFallsBackToRawDifference) {
  const CaseResults prod = Cases(500, 3, /*extra=*/2);
  const CaseResults cand = Cases(500, 3);
  const v1::BundleManifest mp = ManifestFor(prod), mc = ManifestFor(cand);
  for (const auto& [c, p] : {std::pair{&cand, static_cast<const CaseResults*>(nullptr)},
                             std::pair{static_cast<const CaseResults*>(nullptr), &prod}}) {
    const GateDecision d = DecidePromotion(GateSide{"cand", &mc, c, "no file"},
                                           GateSide{"prod", &mp, p, "no file"});
    EXPECT_FALSE(d.allow);
    EXPECT_FALSE(d.comparison.has_value());
    EXPECT_TRUE(absl::StartsWith(d.message, "refusing to promote cand: its test two_stage "
                                            "NDCG@10 0.300000 is lower than production prod's "
                                            "0.304000"))
        << d.message;
    EXPECT_TRUE(absl::StrContains(d.message, "raw difference rule")) << d.message;
    EXPECT_TRUE(absl::StrContains(d.message, "has no per-case results (no file)")) << d.message;
  }
  // Equal or higher passes the raw rule.
  const GateDecision ok = DecidePromotion(GateSide{"prod", &mp, nullptr, "old"},
                                          GateSide{"cand", &mc, nullptr, "old"});
  EXPECT_TRUE(ok.allow) << ok.message;
  EXPECT_TRUE(absl::StrContains(ok.message, "raw difference rule")) << ok.message;
}

// Results of different cases are compared unpaired (intervals combined) and say so.
TEST(PromotionGate, DifferentCasesAreComparedUnpaired) {
  const CaseResults prod = Cases(500, 3, /*extra=*/150);  // 0.60
  const CaseResults cand = Cases(400, 3, 0, /*key_offset=*/10000);  // 0.30
  const v1::BundleManifest mp = ManifestFor(prod), mc = ManifestFor(cand);
  const GateDecision d = DecidePromotion(GateSide{"cand", &mc, &cand, ""},
                                         GateSide{"prod", &mp, &prod, ""});
  EXPECT_FALSE(d.allow);
  EXPECT_FALSE(d.comparison->paired);
  EXPECT_TRUE(absl::StrContains(d.message, "unpaired cases (cand: 400, prod: 500, 0 in common"))
      << d.message;
}

class PromotionGateRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "promotion_gate_test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = templ;
    reg_ = std::make_unique<Registry>(root_, "movielens");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Commits `version` with a test two_stage row of the cases' mean NDCG and,
  // unless `cases` is null, the per-case results file.
  void Commit(const std::string& version, const CaseResults& results, bool write_cases = true) {
    auto staging = reg_->BeginVersion();
    ASSERT_TRUE(staging.ok()) << staging.status();
    ASSERT_TRUE(WriteStringArray(*staging + "/titles.arr", {"a", version}).ok());
    if (write_cases) {
      ASSERT_TRUE(WriteCaseResults(*staging + "/" + kCaseResultsFileName, results).ok());
    }
    v1::BundleManifest m = ManifestFor(results);
    m.set_version(version);
    m.set_kind("evaluation");
    const absl::Status s = reg_->CommitVersion(*staging, m);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string root_;
  std::unique_ptr<Registry> reg_;
};

// Through Registry::Promote: noise passes, a significant drop is refused
// unless forced, and an old production bundle brings back the raw rule.
TEST_F(PromotionGateRegistryTest, PromoteUsesThePairedGate) {
  Commit("prod", Cases(500, 3, 30));
  Commit("noise", Cases(500, 3, 28));
  Commit("worse", Cases(500, 3));
  ASSERT_TRUE(reg_->Promote("prod", false).ok());
  EXPECT_TRUE(reg_->Promote("noise", false).ok());
  EXPECT_EQ(*reg_->Production(), "noise");
  const absl::Status s = reg_->Promote("worse", false);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "significantly lower")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "over 500 paired cases")) << s;
  EXPECT_EQ(*reg_->Production(), "noise");
  EXPECT_TRUE(reg_->Promote("worse", /*force=*/true).ok());

  // Production without per-case results: a small drop is refused by the raw rule.
  Commit("old", Cases(500, 3, 30), /*write_cases=*/false);
  ASSERT_TRUE(reg_->Promote("old", false).ok());
  const absl::Status raw = reg_->Promote("noise", false);
  EXPECT_TRUE(absl::IsFailedPrecondition(raw)) << raw;
  EXPECT_TRUE(absl::StrContains(raw.message(), "raw difference rule: production old has no "
                                               "per-case results (its manifest lists no "
                                               "leaderboard.cases)"))
      << raw;
}

// Reading a bundle's per-case results: absent from the manifest is "none";
// listed but altered is an error naming the file; an unlisted file is refused
// by bundle verification.
TEST_F(PromotionGateRegistryTest, ReadBundleCaseResultsChecksTheManifest) {
  Commit("with", Cases(100, 3));
  Commit("without", Cases(100, 3), /*write_cases=*/false);
  auto with = ReadBundleCaseResults(reg_->VersionDir("with"), *reg_->Show("with"));
  ASSERT_TRUE(with.ok()) << with.status();
  ASSERT_TRUE(with->has_value());
  EXPECT_EQ((*with)->Find("test", "two_stage", 10)->size(), 100u);
  auto without = ReadBundleCaseResults(reg_->VersionDir("without"), *reg_->Show("without"));
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE(without->has_value());

  const std::string path = reg_->VersionDir("with") + "/" + kCaseResultsFileName;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  auto altered = ReadBundleCaseResults(reg_->VersionDir("with"), *reg_->Show("with"));
  EXPECT_TRUE(absl::IsDataLoss(altered.status())) << altered.status();
  EXPECT_TRUE(absl::StrContains(altered.status().message(), "leaderboard.cases: SHA-256 mismatch"))
      << altered.status();

  fs::copy_file(path, reg_->VersionDir("without") + "/" + kCaseResultsFileName);
  const absl::Status unlisted =
      VerifyBundle(reg_->VersionDir("without"), *reg_->Show("without"));
  EXPECT_TRUE(absl::StrContains(unlisted.message(), "not listed in the manifest")) << unlisted;
}

}  // namespace
}  // namespace recsys
