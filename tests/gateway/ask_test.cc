// Ask's pure parts (gateway/ask.h): words, UTF-8, request validation, the
// candidate count, lexical re-scoring, snippets and the extractive answer,
// over a small MovieLens-shaped catalogue.
#include "gateway/ask.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"

namespace recsys::gateway {
namespace {

using ::testing::ElementsAre;

struct TestItem {
  const char* id;
  const char* title;
  std::vector<int32_t> categories;
};

// Categories: 0 Action, 1 Adventure, 2 Sci-Fi, 3 Comedy, 4 Crime, 5 Horror, 6 Romance.
std::shared_ptr<const ModelBundle> TestBundle() {
  auto bundle = std::make_shared<ModelBundle>();
  bundle->manifest.set_version("v3");
  Catalogue& c = bundle->catalogue;
  c.category_names = {"Action", "Adventure", "Sci-Fi", "Comedy", "Crime", "Horror", "Romance"};
  const std::vector<TestItem> items = {
      {"260", "Star Wars: Episode IV - A New Hope (1977)", {0, 1, 2}},
      {"1", "Toy Story (1995)", {1, 3}},
      {"6", "Heat (1995)", {0, 4}},
      {"1214", "Alien (1979)", {5, 2}},
      {"4973", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", {3, 6}},
      {"329", "Star Trek: Generations (1994)", {1, 2}},
      {"99", "Untitled", {}},
  };
  for (const TestItem& item : items) {
    c.ids.GetOrAdd(item.id);
    c.titles.push_back(item.title);
    c.categories.push_back(item.categories);
  }
  return bundle;
}

v1::SearchResponse Search(const std::vector<std::string>& ids, const std::string& version = "v3") {
  v1::SearchResponse r;
  r.set_model_version(version);
  float score = 1.0f;
  for (const std::string& id : ids) {
    v1::ScoredItem* item = r.add_items();
    item->set_item_id(id);
    item->set_score(score *= 0.9f);
  }
  return r;
}

v1::AskRequest Request(const std::string& question, int k = 0) {
  v1::AskRequest r;
  r.set_question(question);
  r.set_k(k);
  return r;
}

std::vector<std::string> Ids(const std::vector<AskScored>& scored, const Catalogue& c) {
  std::vector<std::string> ids;
  for (const AskScored& s : scored) ids.push_back(c.ids.Name(s.item));
  return ids;
}

// Lower case, ASCII words, stop words and duplicates out, plurals folded;
// multi-byte characters stay inside their word.
TEST(AskWordsTest, LowerCaseWordsWithoutStopWordsOrPlurals) {
  EXPECT_THAT(AskWords("What are the best Star Wars movies from 1977?"),
              ElementsAre("best", "star", "war", "1977"));
  EXPECT_THAT(AskWords("star STAR Star"), ElementsAre("star"));
  EXPECT_THAT(AskWords("Sci-Fi"), ElementsAre("sci", "fi"));
  EXPECT_THAT(AskWords("Amélie, please"), ElementsAre("amélie"));
  EXPECT_THAT(AskWords("glass bus adventures"), ElementsAre("glass", "bus", "adventure"));
  EXPECT_TRUE(AskWords("what is the movie?").empty());
  EXPECT_TRUE(AskWords("").empty());
  EXPECT_TRUE(AskWords("?!  ...").empty());
}

// Well-formed UTF-8 only: no stray continuation bytes, truncated sequences,
// overlong forms, surrogates or code points past U+10FFFF.
TEST(AskValidationTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("Amélie"));
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));      // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x8e\xac"));  // 🎬
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("Am\xc3"));            // cut short
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
}

// Every limit refused with INVALID_ARGUMENT and a message naming it; k 0
// means 5.
TEST(AskValidationTest, RequestLimits) {
  EXPECT_TRUE(ValidateAskRequest(Request("space adventure")).ok());
  EXPECT_TRUE(ValidateAskRequest(Request(std::string(kMaxQuestionBytes, 'a'), kMaxAskK)).ok());
  struct Case {
    v1::AskRequest request;
    const char* message;
  };
  const std::vector<Case> cases = {
      {Request(""), "question must not be empty"},
      {Request(std::string(kMaxQuestionBytes + 1, 'a')), "question of 1025 bytes (at most 1024)"},
      {Request("caf\xe9"), "question must be valid UTF-8"},
      {Request(" \t\n "), "question must not be only white space"},
      {Request("space", -1), "k must be in 0..20 (0 = 5), got -1"},
      {Request("space", 21), "k must be in 0..20 (0 = 5), got 21"},
  };
  for (const Case& c : cases) {
    const absl::Status s = ValidateAskRequest(c.request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(s.message(), c.message);
  }
  EXPECT_EQ(AskK(Request("space")), kDefaultAskK);
  EXPECT_EQ(AskK(Request("space", 7)), 7);
}

// max(4k, 30) candidates, within retrieval's max-k, never fewer than k.
TEST(AskScoringTest, CandidateCount) {
  AskOptions o;
  EXPECT_EQ(AskCandidateCount(1, o), 30);
  EXPECT_EQ(AskCandidateCount(5, o), 30);
  EXPECT_EQ(AskCandidateCount(20, o), 80);
  o.max_candidates = 50;
  EXPECT_EQ(AskCandidateCount(20, o), 50);
  o.max_candidates = 10;
  EXPECT_EQ(AskCandidateCount(20, o), 20);
}

// A title match (the year is a word of the title) lifts an item over the
// search's first answers; its snippet is the title.
TEST(AskScoringTest, TitleAndYearMatchesOutrankSearchOrder) {
  const auto bundle = TestBundle();
  const Catalogue& c = bundle->catalogue;
  const v1::SearchResponse search = Search({"1", "6", "260", "1214"});
  int unknown = -1;
  const std::vector<AskScored> scored =
      ScoreAskCandidates(c, AskWords("star wars 1977"), search, 3, AskOptions(), &unknown);
  EXPECT_EQ(unknown, 0);
  ASSERT_THAT(Ids(scored, c), ElementsAre("260", "1", "6"));
  EXPECT_EQ(scored[0].matched_words, 3);
  EXPECT_EQ(scored[0].search_rank, 2);
  EXPECT_TRUE(scored[0].snippet_is_title);
  EXPECT_FLOAT_EQ(scored[0].score, 0.8f + 0.2f / 3);
  // Unmatched items keep the search's order, scored by rank alone.
  EXPECT_EQ(scored[1].matched_words, 0);
  EXPECT_FLOAT_EQ(scored[1].score, 0.2f);
  EXPECT_FLOAT_EQ(scored[2].score, 0.1f);
}

// Category names match too ("sci-fi" and "scifi" both find Sci-Fi); the
// snippet is the field with more matched words.
TEST(AskScoringTest, CategoryMatchesChooseTheCategorySnippet) {
  const auto bundle = TestBundle();
  const Catalogue& c = bundle->catalogue;
  const v1::SearchResponse search = Search({"1", "260", "1214"});
  std::vector<AskScored> scored =
      ScoreAskCandidates(c, AskWords("sci-fi horror"), search, 3, AskOptions(), nullptr);
  ASSERT_THAT(Ids(scored, c), ElementsAre("1214", "260", "1"));
  EXPECT_EQ(scored[0].matched_words, 3);
  EXPECT_FALSE(scored[0].snippet_is_title);
  EXPECT_EQ(scored[1].matched_words, 2);
  scored = ScoreAskCandidates(c, AskWords("scifi"), search, 3, AskOptions(), nullptr);
  EXPECT_THAT(Ids(scored, c), ElementsAre("260", "1214", "1"));
  // A word in both fields: the title is the snippet.
  scored = ScoreAskCandidates(c, AskWords("heat action"), Search({"6"}), 1, AskOptions(), nullptr);
  ASSERT_EQ(scored.size(), 1u);
  EXPECT_TRUE(scored[0].snippet_is_title);
}

// Items the catalogue does not know (another model version) are skipped and
// counted; a repeated item counts once; k bounds the answer.
TEST(AskScoringTest, UnknownAndRepeatedItems) {
  const auto bundle = TestBundle();
  const Catalogue& c = bundle->catalogue;
  int unknown = 0;
  std::vector<AskScored> scored = ScoreAskCandidates(
      c, AskWords("star"), Search({"nope", "6", "6", "329", "260"}), 5, AskOptions(), &unknown);
  EXPECT_EQ(unknown, 1);
  EXPECT_THAT(Ids(scored, c), ElementsAre("329", "260", "6"));
  scored = ScoreAskCandidates(c, AskWords("star"), Search({"6", "329", "260"}), 1, AskOptions(),
                              nullptr);
  EXPECT_THAT(Ids(scored, c), ElementsAre("329"));
}

// The extractive answer quotes the question (white space folded) and lists
// each cited item as "Title [Categories]", nothing else; citations carry the
// catalogue's fields and the matching snippet.
TEST(AskAnswerTest, BestMatchesFromCatalogueTextOnly) {
  const auto bundle = TestBundle();
  v1::AskResponse r;
  AnswerExtractively(*bundle, Request("  star\n wars? ", 2), Search({"1", "329", "260"}),
                     AskOptions(), &r);
  EXPECT_EQ(r.mode(), kAskModeExtractive);
  EXPECT_EQ(r.model_version(), "v3");
  EXPECT_TRUE(r.notes().empty()) << r.notes(0);
  ASSERT_EQ(r.citations_size(), 2);
  EXPECT_EQ(r.answer(),
            "Best matches for \"star wars?\": Star Wars: Episode IV - A New Hope (1977) [Action, "
            "Adventure, Sci-Fi]; Star Trek: Generations (1994) [Adventure, Sci-Fi]");
  const v1::AskCitation& top = r.citations(0);
  EXPECT_EQ(top.item_id(), "260");
  EXPECT_EQ(top.title(), "Star Wars: Episode IV - A New Hope (1977)");
  EXPECT_THAT(top.categories(), ElementsAre("Action", "Adventure", "Sci-Fi"));
  EXPECT_EQ(top.snippet(), top.title());
  EXPECT_GT(top.score(), r.citations(1).score());

  r.Clear();
  AnswerExtractively(*bundle, Request("romance comedy"), Search({"260", "4973"}), AskOptions(), &r);
  ASSERT_GE(r.citations_size(), 1);
  EXPECT_EQ(r.citations(0).item_id(), "4973");
  EXPECT_EQ(r.citations(0).snippet(), "Comedy, Romance");
}

// No word matches: the content search's nearest items are still cited, and
// a note says why; an item without categories is shown by its title alone.
TEST(AskAnswerTest, NoLexicalMatchCitesTheSearchAndSaysSo) {
  const auto bundle = TestBundle();
  v1::AskResponse r;
  AnswerExtractively(*bundle, Request("zebras", 2), Search({"99", "6"}), AskOptions(), &r);
  EXPECT_EQ(r.answer(),
            "Closest catalogue items to \"zebras\" by content: Untitled; Heat (1995) [Action, "
            "Crime]");
  ASSERT_EQ(r.citations_size(), 2);
  EXPECT_EQ(r.citations(0).snippet(), "Untitled");
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_EQ(r.notes(0),
            "no word of the question matched a title or category: citing the content search's "
            "nearest items");

  r.Clear();
  AnswerExtractively(*bundle, Request("what is the movie?"), Search({"6"}), AskOptions(), &r);
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_NE(r.notes(0).find("only common words"), std::string::npos) << r.notes(0);
}

// Nothing found: no citations, an answer saying so and a note; a retrieval
// version other than the catalogue's and unknown ids are noted.
TEST(AskAnswerTest, EmptySearchAndVersionSkewAreNoted) {
  const auto bundle = TestBundle();
  v1::AskResponse r;
  AnswerExtractively(*bundle, Request("qwxz"), Search({}), AskOptions(), &r);
  EXPECT_EQ(r.citations_size(), 0);
  EXPECT_EQ(r.answer(), "No catalogue item matches \"qwxz\".");
  EXPECT_THAT(r.notes(), ElementsAre("the content search found no item for the question's words"));

  r.Clear();
  AnswerExtractively(*bundle, Request("heat"), Search({"gone", "6"}, "v4"), AskOptions(), &r);
  ASSERT_EQ(r.citations_size(), 1);
  EXPECT_THAT(r.notes(), ElementsAre("1 search result(s) unknown to the catalogue of v3 skipped",
                                     "retrieval serves model version v4; the catalogue is "
                                     "version v3"));
}

}  // namespace
}  // namespace recsys::gateway
