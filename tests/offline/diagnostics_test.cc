#include "offline/diagnostics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "common/bundle/model_bundle.h"
#include "common/features/features.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "offline/trainer.h"
#include "tests/testing/toy_registry.h"

namespace recsys::offline {
namespace {

TEST(DiagnosticDepths, StepsOneTwoFiveUpToTheLargest) {
  EXPECT_EQ(DiagnosticDepths(100), (std::vector<int>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_EQ(DiagnosticDepths(7), (std::vector<int>{1, 2, 5, 7}));
  EXPECT_EQ(DiagnosticDepths(1), (std::vector<int>{1}));
  EXPECT_EQ(DiagnosticDepths(250), (std::vector<int>{1, 2, 5, 10, 20, 50, 100, 200, 250}));
}

// Trains the toy data set once and diagnoses its test cases.
class DiagnosticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshTempDir("diagnostics"));
    TrainOptions o = testing::ToyTrainOptions(*root_);
    auto result = Train(o);
    ASSERT_TRUE(result.ok()) << result.status();
    result_ = new TrainResult(*result);
    auto bundle = ModelBundle::Load(result->bundle_dir);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_holder_ = new std::shared_ptr<const ModelBundle>(*bundle);
    bundle_ = bundle_holder_->get();
    auto data = LoadDataset(o.data_dir, o.load);
    ASSERT_TRUE(data.ok()) << data.status();
    split_ = new LeaveLastOutSplit(*data, SplitOptions{o.eval_users, o.seed});
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete split_;
    delete bundle_holder_;
    delete result_;
    delete root_;
  }
  static std::string* root_;
  static TrainResult* result_;
  static const ModelBundle* bundle_;
  static std::shared_ptr<const ModelBundle>* bundle_holder_;
  static LeaveLastOutSplit* split_;
};
std::string* DiagnosticsTest::root_ = nullptr;
TrainResult* DiagnosticsTest::result_ = nullptr;
const ModelBundle* DiagnosticsTest::bundle_ = nullptr;
std::shared_ptr<const ModelBundle>* DiagnosticsTest::bundle_holder_ = nullptr;
LeaveLastOutSplit* DiagnosticsTest::split_ = nullptr;

// The curves agree with the leaderboard the trainer computed on the same
// cases: a source's recall at depth k is its recall@k row; the pool's recall
// is the pool row's; and every count adds up.
TEST_F(DiagnosticsTest, AgreesWithTheLeaderboardAndAddsUp) {
  const int k = 10;
  const auto& cases = split_->cases(SplitName::kTest);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    const Diagnostics d = Diagnose(*bundle_, *split_, cases, SplitName::kTest, k, threads);
    ASSERT_EQ(d.cases, static_cast<int64_t>(cases.size()));
    const auto at_k = std::find(d.depths.begin(), d.depths.end(), k);
    ASSERT_NE(at_k, d.depths.end());
    const size_t jk = at_k - d.depths.begin();
    int available = 0;
    for (int s = 0; s < kNumSources; ++s) {
      if (!d.available[s]) continue;
      ++available;
      const std::string name = SourceName(static_cast<SourceId>(s));
      for (size_t j = 1; j < d.depths.size(); ++j) {
        EXPECT_LE(d.hits[s][j - 1], d.hits[s][j]) << name << " depth " << d.depths[j];
      }
      bool found = false;
      for (const LeaderboardRow& row : result_->leaderboard) {
        if (row.split != "test" || row.model != name) continue;
        found = true;
        EXPECT_NEAR(static_cast<double>(d.hits[s][jk]) / d.cases, row.recall, 1e-9) << name;
      }
      EXPECT_TRUE(found) << name;
      EXPECT_LE(d.final_from[s], d.final_slots);
    }
    EXPECT_GE(available, 4);
    for (const LeaderboardRow& row : result_->leaderboard) {
      if (row.split == "test" && row.model == "pool") {
        EXPECT_NEAR(static_cast<double>(d.pool_hits) / d.cases, row.recall, 1e-9);
      }
    }
    EXPECT_LE(d.final_slots, d.cases * k);
    EXPECT_GT(d.final_slots, 0);
    // Every final slot came from at least one source.
    int64_t from = 0, only = 0;
    for (int s = 0; s < kNumSources; ++s) {
      from += d.final_from[s];
      only += d.final_only[s];
    }
    EXPECT_GE(from, d.final_slots);
    EXPECT_LE(only, d.final_slots);
    int64_t count = 0, positives = 0;
    for (const CalibrationBin& b : d.calibration) {
      count += b.count;
      positives += b.positives;
      EXPECT_LT(b.lo, b.hi);
      if (b.count > 0) {
        EXPECT_GE(b.predicted_sum / b.count, b.lo);
        EXPECT_LT(b.predicted_sum / b.count, b.hi);
      }
    }
    EXPECT_EQ(count, d.pool_size_sum);
    EXPECT_EQ(positives, d.pool_hits);
  }
}

// The JSON parses, names every available source once, marks depths beyond a
// source's fetch as null, and lists one weight per ranker feature.
TEST_F(DiagnosticsTest, JsonIsValidAndComplete) {
  const Diagnostics d =
      Diagnose(*bundle_, *split_, split_->cases(SplitName::kTest), SplitName::kTest, 10, 2);
  const std::string json = DiagnosticsJson(d, *bundle_, "ranker + 1 sd of \"x\"");
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  const auto& f = parsed.fields();
  EXPECT_EQ(f.at("split").string_value(), "test");
  EXPECT_EQ(f.at("cases").number_value(), static_cast<double>(d.cases));
  const auto& depths = f.at("depths").list_value().values();
  ASSERT_EQ(static_cast<size_t>(depths.size()), d.depths.size());
  int sources = 0;
  for (const auto& v : f.at("sources").list_value().values()) {
    ++sources;
    const auto& s = v.struct_value().fields();
    const auto& recall = s.at("recall_at_depth").list_value().values();
    ASSERT_EQ(recall.size(), depths.size());
    const double quota = s.at("quota").number_value();
    for (int j = 0; j < recall.size(); ++j) {
      const bool measured = depths[j].number_value() <= std::max(quota, 10.0);
      EXPECT_EQ(recall[j].has_null_value(), !measured)
          << s.at("source").string_value() << " depth " << depths[j].number_value();
    }
  }
  int available = 0;
  for (bool a : d.available) available += a;
  EXPECT_EQ(sources, available);
  const auto& ranker = f.at("ranker").struct_value().fields();
  EXPECT_EQ(ranker.at("final").string_value(), "ranker + 1 sd of \"x\"");
  EXPECT_EQ(ranker.at("weights").list_value().values_size(), kNumFeatures);
  EXPECT_GT(f.at("calibration").list_value().values_size(), 0);
}

}  // namespace
}  // namespace recsys::offline
