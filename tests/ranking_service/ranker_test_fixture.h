// The ranker tests' fixture: two real toy bundles (one with a duplicated
// title) and a sci-fi user with its user state and retrieval pool (header-only:
// only *_test.cc files are compiled into the test binary).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/features/features.h"
#include "common/retrieval/pool.h"
#include "ranking_service/ranker.h"
#include "tests/testing/toy_registry.h"

namespace recsys::ranking::testing {

inline constexpr int64_t kT0 = 1500000000;  // toy data's first timestamp

inline std::shared_ptr<const ModelBundle> LoadToy(const std::string& root) {
  auto trained = recsys::testing::TrainToyBundle(root);
  EXPECT_TRUE(trained.ok()) << trained.status();
  if (!trained.ok()) return nullptr;
  auto bundle = ModelBundle::Load(trained->bundle_dir);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

// The toy data with m21's title changed to m0's ("Movie 0, part 0"), trained.
inline std::shared_ptr<const ModelBundle> LoadToyWithDuplicateTitle(const std::string& root) {
  offline::TrainOptions options = recsys::testing::ToyTrainOptions(root);
  const std::string items = options.data_dir + "/items.csv";
  std::stringstream text;
  text << std::ifstream(items).rdbuf();
  std::string csv = text.str();
  const std::string from = "\"Movie 21, part 0\"";
  const size_t at = csv.find(from);
  EXPECT_NE(at, std::string::npos);
  csv.replace(at, from.size(), "\"Movie 0, part 0\"");
  std::ofstream(items, std::ios::trunc) << csv;
  auto trained = offline::Train(options);
  EXPECT_TRUE(trained.ok()) << trained.status();
  if (!trained.ok()) return nullptr;
  auto bundle = ModelBundle::Load(trained->bundle_dir);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

class RankerTest : public ::testing::Test {
 protected:
  // Two real toy bundles (~30 ms each), shared by every test of the suite.
  static void SetUpTestSuite() {
    bundle_ = LoadToy(recsys::testing::FreshTempDir("ranker_toy"));
    dup_bundle_ = LoadToyWithDuplicateTitle(recsys::testing::FreshTempDir("ranker_toy_dup"));
  }
  static void TearDownTestSuite() {
    bundle_.reset();
    dup_bundle_.reset();
  }
  void SetUp() override {
    ASSERT_NE(bundle_, nullptr);
    ASSERT_NE(dup_bundle_, nullptr);
  }

  static const ModelBundle& bundle() { return *bundle_; }

  // A cluster-0 ("SciFi") history m0, m3, ..., one event a minute.
  static std::vector<Interaction> SciFiHistory(const ModelBundle& b, int n) {
    std::vector<Interaction> h;
    for (int i = 0; i < n; ++i) {
      h.push_back(Interaction{0, *b.catalogue.ids.Find(absl::StrCat("m", 3 * i)), kT0 + 60 * i, 1});
    }
    return h;
  }

  // The retrieval pool of that history, as the retrieval service builds it.
  static std::vector<PooledCandidate> PoolFor(const ModelBundle& b, const UserState& st) {
    return retrieval::RetrievePool(retrieval::DefaultRetrievers(), b, st, b.params.quotas,
                                   b.params.max_pool, nullptr);
  }

  // A sci-fi user of `n` events, as of an hour after the toy data starts,
  // with its user state and retrieval pool.
  struct SciFiCase {
    std::vector<Interaction> history;
    int64_t as_of = kT0 + 3600;
    UserState state;
    std::vector<PooledCandidate> pool;
  };
  static SciFiCase SciFiUser(const ModelBundle& b, int n) {
    SciFiCase c;
    c.history = SciFiHistory(b, n);
    c.state = BuildUserState(b, c.history, c.as_of, {});
    c.pool = PoolFor(b, c.state);
    return c;
  }

  inline static std::shared_ptr<const ModelBundle> bundle_;
  inline static std::shared_ptr<const ModelBundle> dup_bundle_;
  Ranker ranker_{RankerOptions{}};
};

inline int Column(const std::string& name) {
  const auto& names = FeatureNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

inline float Probability(float logit) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-double{logit})));
}

}  // namespace recsys::ranking::testing
