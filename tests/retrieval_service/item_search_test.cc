// Search on real data: a bundle trained on ml-latest-small (tuning off), loaded
// as the retrieval service loads it (with the lexical index), searched with
// what people type: titles and title words must come first, unknown words fall
// back to the content embedding, and the service refuses empty queries.
#include "retrieval_service/item_search.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "offline/trainer.h"
#include "retrieval_service/service.h"
#include "tests/retrieval_service/service_test_util.h"

namespace recsys::retrieval {
namespace {

namespace fs = std::filesystem;
using testing::ScopedLogSeverity;

class MovieLensSearchTest : public ::testing::Test {
 protected:
  // Trains once for every test of the file (~10 s without tuning) and promotes.
  static void SetUpTestSuite() {
    const auto start = std::chrono::steady_clock::now();
    root_ = new std::string(recsys::testing::FreshTempDir("movielens_search"));
    offline::TrainOptions o;
    o.data_dir = RECSYS_DATA_DIR "/ml-latest-small";
    o.registry = *root_ + "/registry";
    o.name = "movielens";
    o.tune_budget = absl::ZeroDuration();
    absl::StatusOr<offline::TrainResult> trained;
    {
      ScopedLogSeverity quiet(LogSeverity::kWarning);
      trained = offline::Train(o);
    }
    ASSERT_TRUE(trained.ok()) << trained.status();
    version_ = new std::string(trained->version);
    ASSERT_TRUE(Registry(o.registry, o.name).Promote(trained->version, /*force=*/true).ok());
    const auto loading = std::chrono::steady_clock::now();
    auto bundle = ModelBundle::Load(trained->bundle_dir, BundleParts::kRetrieval);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_ = new std::shared_ptr<const ModelBundle>(*bundle);
    const auto done = std::chrono::steady_clock::now();
    std::cout << "[ search   ] trained ml-latest-small in "
              << std::chrono::duration<double>(loading - start).count() << " s, loaded in "
              << std::chrono::duration<double>(done - loading).count()
              << " s; lexical index: " << (*bundle_)->lexical_index.vocabulary_size() << " words, "
              << (*bundle_)->lexical_index.num_postings() << " postings, "
              << (*bundle_)->lexical_index.MemoryBytes() << " bytes\n";
  }
  static void TearDownTestSuite() {
    delete bundle_;
    delete version_;
    if (root_ != nullptr) fs::remove_all(*root_);
    delete root_;
    bundle_ = nullptr;
    version_ = nullptr;
    root_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(bundle_, nullptr) << "suite set-up failed"; }

  static v1::SearchResponse Search(const std::string& query, int k,
                                   const ModelBundle& bundle = **bundle_) {
    v1::SearchRequest r;
    r.set_query(query);
    r.set_k(k);
    v1::SearchResponse response;
    absl::Status s = SearchItems(bundle, r, &response);
    EXPECT_TRUE(s.ok()) << s;
    return response;
  }

  static std::vector<std::string> Titles(const v1::SearchResponse& r) {
    std::vector<std::string> out;
    for (const v1::ScoredItem& i : r.items()) out.push_back(i.title());
    return out;
  }

  static bool TitleHas(const std::string& title, absl::string_view words) {
    return absl::StrContains(absl::AsciiStrToLower(title), words);
  }

  static std::string* root_;
  static std::string* version_;
  static std::shared_ptr<const ModelBundle>* bundle_;
};

std::string* MovieLensSearchTest::root_ = nullptr;
std::string* MovieLensSearchTest::version_ = nullptr;
std::shared_ptr<const ModelBundle>* MovieLensSearchTest::bundle_ = nullptr;

// Title words come first: every top-10 title for "space" holds the word, the
// top 5 for "star wars" are Star Wars films, and "toy story" finds Toy Story
// (1995) at the top with its sequels next.
TEST_F(MovieLensSearchTest, TitlesHoldingTheQueryComeFirst) {
  const v1::SearchResponse space = Search("space", 10);
  ASSERT_EQ(space.items_size(), 10);
  for (const std::string& t : Titles(space)) {
    EXPECT_TRUE(absl::c_linear_search(LexicalWords(t), "space")) << t;
  }

  const v1::SearchResponse star_wars = Search("star wars", 5);
  ASSERT_EQ(star_wars.items_size(), 5);
  for (const std::string& t : Titles(star_wars)) EXPECT_TRUE(TitleHas(t, "star wars")) << t;

  const std::vector<std::string> toy_story = Titles(Search("toy story", 10));
  ASSERT_GE(toy_story.size(), 3u);
  EXPECT_EQ(toy_story[0], "Toy Story (1995)");
  EXPECT_TRUE(absl::StartsWith(toy_story[1], "Toy Story ")) << toy_story[1];
  EXPECT_TRUE(absl::StartsWith(toy_story[2], "Toy Story ")) << toy_story[2];

  // Both words in the title beat one of them ("space adventure": no title has
  // both, so "space" titles in the Adventure category lead).
  const v1::SearchResponse adventure = Search("space adventure", 5);
  ASSERT_EQ(adventure.items_size(), 5);
  for (const v1::ScoredItem& i : adventure.items()) {
    EXPECT_TRUE(TitleHas(i.title(), "space")) << i.title();
    EXPECT_TRUE(absl::c_linear_search(i.categories(), "Adventure")) << i.title();
  }
  // Scores are the fused score, best first.
  for (int i = 1; i < adventure.items_size(); ++i) {
    EXPECT_GE(adventure.items(i - 1).score(), adventure.items(i).score());
  }
}

// A word the content embedding dropped (in too few items for its vocabulary)
// is still found through the title: the embedding alone found nothing.
TEST_F(MovieLensSearchTest, TitleWordsTheEmbeddingDoesNotKnowAreFound) {
  const ModelBundle& bundle = **bundle_;
  const std::vector<float> embedded = bundle.content.EmbedText("zathura");
  ASSERT_TRUE(absl::c_all_of(embedded, [](float x) { return x == 0.0f; }));
  EXPECT_EQ(Titles(Search("zathura", 10)), std::vector<std::string>{"Zathura (2005)"});
  // Non-ASCII bytes are kept as word bytes.
  const std::vector<std::string> amelie = Titles(Search("Amélie", 3));
  ASSERT_EQ(amelie.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(amelie[0], "Amelie (Fabuleux destin")) << amelie[0];
}

// Words no title or category holds fall back to the embedding: the same items
// in the same order as the content index alone; a word neither signal knows
// adds nothing; a bundle loaded without the lexical index answers from the
// embedding alone.
TEST_F(MovieLensSearchTest, UnknownWordsFallBackToTheEmbedding) {
  const ModelBundle& bundle = **bundle_;
  ASSERT_EQ(bundle.lexical_index.DocumentFrequency("atmospheric"), 0);
  const std::vector<float> query = bundle.content.EmbedText("atmospheric");
  absl::StatusOr<std::vector<Neighbor>> nearest = bundle.content_index.Search(query.data(), 10, {});
  ASSERT_TRUE(nearest.ok()) << nearest.status();
  std::vector<std::string> expected;
  for (const Neighbor& n : *nearest) expected.push_back(bundle.catalogue.titles[n.id]);
  ASSERT_EQ(expected.size(), 10u);
  EXPECT_EQ(Titles(Search("atmospheric", 10)), expected);

  EXPECT_EQ(Titles(Search("star wars qqzzxx", 10)), Titles(Search("star wars", 10)));
  EXPECT_EQ(Search("qqzzxx vvkkjj", 10).items_size(), 0);

  auto served_without = ModelBundle::Load(fs::path(*root_) / "registry" / "movielens" / *version_,
                                          BundleParts::kServing);
  ASSERT_TRUE(served_without.ok()) << served_without.status();
  ASSERT_EQ((*served_without)->lexical_index.num_postings(), 0);
  const std::vector<float> space = bundle.content.EmbedText("space");
  nearest = bundle.content_index.Search(space.data(), 10, {});
  ASSERT_TRUE(nearest.ok()) << nearest.status();
  expected.clear();
  for (const Neighbor& n : *nearest) expected.push_back(bundle.catalogue.titles[n.id]);
  EXPECT_EQ(Titles(Search("space", 10, **served_without)), expected);
}

// The served Search over gRPC: the retrieval server's loader builds the
// lexical index; an empty or white-space-only query is refused.
TEST_F(MovieLensSearchTest, ServedSearchUsesTheLexicalIndexAndRefusesEmptyQueries) {
  auto metrics = ServerMetrics::CreateWithoutExposer();
  RetrievalServerOptions o;
  o.server.address = "127.0.0.1:0";
  o.bundle.registry_root = *root_ + "/registry";
  o.bundle.model_name = "movielens";
  o.start_polling = false;
  auto server = RetrievalServer::Start(std::move(o), metrics.get());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->holder().PollOnce().ok());
  auto stub = v1::Retrieval::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  auto search = [&](const std::string& query, v1::SearchResponse* response) {
    v1::SearchRequest r;
    r.set_query(query);
    r.set_k(3);
    grpc::ClientContext ctx;
    testing::SetDeadline(&ctx);
    return stub->Search(&ctx, r, response);
  };
  v1::SearchResponse response;
  grpc::Status s = search("toy story", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.model_version(), *version_);
  ASSERT_EQ(response.items_size(), 3);
  EXPECT_EQ(response.items(0).title(), "Toy Story (1995)");
  for (const char* bad : {"", " \t\n "}) {
    s = search(bad, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "'" << bad << "'";
  }
  EXPECT_EQ(search(" ", &response).error_message(), "query must not be only white space");
  stub.reset();
  (*server)->Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace recsys::retrieval
