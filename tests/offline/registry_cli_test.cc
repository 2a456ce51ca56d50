// recsys-registry's compare and promote through the real binary, on trained
// toy bundles: the paired comparison table and the paired promotion gate, and
// the fallback for a bundle without per-case results.
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/eval/case_results.h"
#include "common/io/file.h"
#include "google/protobuf/util/json_util.h"
#include "offline/trainer.h"
#include "tests/testing/toy_registry.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

// Runs recsys-registry with `args` (shell words, already safe) on the test registry.
CommandResult RunRegistry(const std::string& root, const std::string& args) {
  const std::string command = absl::StrCat(RECSYS_BIN_DIR, "/recsys-registry --registry ", root,
                                           "/registry --name toy ", args, " 2>&1");
  CommandResult run;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = ::fread(buffer, 1, sizeof(buffer), p)) > 0) run.output.append(buffer, n);
  const int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class RegistryCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshTempDir("registry_cli"));
    offline::TrainOptions o = testing::ToyTrainOptions(*root_);
    auto good = offline::Train(o);
    ASSERT_TRUE(good.ok()) << good.status();
    auto again = offline::Train(o);  // same seed and data: the same per-case results
    ASSERT_TRUE(again.ok()) << again.status();
    // A deliberately weak model: tiny factors, one ALS sweep, no EASE, and a
    // pool of trending candidates only (the toy data is easy: any pool with a
    // personalised source in it ranks nearly as well).
    o.content.dim = 2;
    o.als.factors = 2;
    o.als.iterations = 1;
    o.ease = false;
    o.serving.quotas = {0, 0, 0, 20, 0, 0, 0};
    o.serving.max_pool = 20;
    auto weak = offline::Train(o);
    ASSERT_TRUE(weak.ok()) << weak.status();
    good_ = new std::string(good->version);
    again_ = new std::string(again->version);
    weak_ = new std::string(weak->version);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*root_, ec);
  }

  // Copies version `from` as `to` without its per-case results: a bundle as
  // written before they existed.
  static std::string OldStyleCopy(const std::string& from, const std::string& to) {
    Registry reg(*root_ + "/registry", "toy");
    fs::copy(reg.VersionDir(from), reg.VersionDir(to), fs::copy_options::recursive);
    fs::remove(reg.VersionDir(to) + "/" + kCaseResultsFileName);
    auto m = ReadManifest(reg.VersionDir(to));
    EXPECT_TRUE(m.ok()) << m.status();
    m->set_version(to);
    auto* files = m->mutable_files();
    for (int i = 0; i < files->size(); ++i) {
      if (files->Get(i).path() == kCaseResultsFileName) {
        files->DeleteSubrange(i, 1);
        break;
      }
    }
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(*m, &json, options).ok());
    EXPECT_TRUE(WriteFileDurably(reg.VersionDir(to) + "/" + kManifestFileName, json).ok());
    EXPECT_TRUE(VerifyBundle(reg.VersionDir(to), *m).ok());
    return to;
  }

  static std::string* root_;
  static std::string* good_;
  static std::string* again_;
  static std::string* weak_;
};

std::string* RegistryCliTest::root_ = nullptr;
std::string* RegistryCliTest::good_ = nullptr;
std::string* RegistryCliTest::again_ = nullptr;
std::string* RegistryCliTest::weak_ = nullptr;

// compare prints today's tables, then the paired table: the same model
// retrained is paired over all 90 cases with no significant difference.
TEST_F(RegistryCliTest, CompareOfIdenticalRunsIsPairedAndEven) {
  const CommandResult r = RunRegistry(*root_, absl::StrCat("compare ", *good_, " ", *again_));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "param ")) << r.output;
  const size_t paired = r.output.find("paired comparison, B - A");
  ASSERT_NE(paired, std::string::npos) << r.output;
  EXPECT_LT(r.output.find("coverage"), paired);  // after the leaderboard table
  const std::string table = r.output.substr(paired);
  EXPECT_TRUE(absl::StrContains(table, "95% interval")) << table;
  EXPECT_TRUE(absl::StrContains(table, "test        two_stage  10")) << table;
  EXPECT_TRUE(absl::StrContains(table, "validation  two_stage  10")) << table;
  EXPECT_TRUE(absl::StrContains(table, "paired, 90 matched (A 90, B 90)")) << table;
  EXPECT_TRUE(absl::StrContains(table, "[+0.0000, +0.0000]  no significant difference")) << table;
  EXPECT_FALSE(absl::StrContains(table, "unpaired")) << table;
}

// The weak model is significantly worse on test NDCG@10: compare says so and
// promote refuses it with the paired figures; --force still promotes.
TEST_F(RegistryCliTest, PromoteRefusesASignificantlyWorseVersion) {
  const CommandResult compare = RunRegistry(*root_, absl::StrCat("compare ", *good_, " ", *weak_));
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  const std::string table = compare.output.substr(compare.output.find("paired comparison"));
  EXPECT_TRUE(absl::StrContains(table, "worse")) << table;

  ASSERT_EQ(RunRegistry(*root_, absl::StrCat("promote ", *good_, " --force")).exit_code, 0);
  const CommandResult refused = RunRegistry(*root_, absl::StrCat("promote ", *weak_));
  EXPECT_EQ(refused.exit_code, 1) << refused.output << table;
  EXPECT_TRUE(absl::StrContains(refused.output, absl::StrCat("refusing to promote ", *weak_)))
      << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "significantly lower")) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "over 90 paired cases")) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "95% interval [-")) << refused.output;
  EXPECT_EQ(RunRegistry(*root_, "production").output, *good_ + "\n");

  // An equal retrain passes the gate.
  const CommandResult same = RunRegistry(*root_, absl::StrCat("promote ", *again_));
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_TRUE(absl::StrContains(same.output, "gate passed")) << same.output;
  EXPECT_TRUE(absl::StrContains(same.output, "no significant difference")) << same.output;

  const CommandResult forced = RunRegistry(*root_, absl::StrCat("promote ", *weak_, " --force"));
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(RunRegistry(*root_, "production").output, *weak_ + "\n");
}

// A version without per-case results still compares (the paired rows say why
// they are missing) and promotion falls back to the raw rule, saying so.
TEST_F(RegistryCliTest, OldBundleComparesAndGatesByRawDifference) {
  const std::string old = OldStyleCopy(*good_, "20200101T000000Z-0000aa");
  const CommandResult compare = RunRegistry(*root_, absl::StrCat("compare ", old, " ", *weak_));
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  EXPECT_TRUE(absl::StrContains(compare.output, "not compared")) << compare.output;
  EXPECT_TRUE(absl::StrContains(compare.output,
                                "A has no per-case results (its manifest lists no "
                                "leaderboard.cases)"))
      << compare.output;

  ASSERT_EQ(RunRegistry(*root_, absl::StrCat("promote ", old, " --force")).exit_code, 0);
  const CommandResult refused = RunRegistry(*root_, absl::StrCat("promote ", *weak_));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "is lower than production")) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "raw difference rule: production " + old +
                                                    " has no per-case results"))
      << refused.output;
}

}  // namespace
}  // namespace recsys
