#include "common/index/lexical_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace recsys {
namespace {

// A small catalogue: titles plus per-item category indices.
struct Corpus {
  std::vector<std::string> titles;
  std::vector<std::string> category_names;
  std::vector<std::vector<int32_t>> categories;

  LexicalIndex Build(const LexicalIndexOptions& options = {}) const {
    return LexicalIndex::Build(
        titles, category_names,
        [this](ItemIndex i) { return std::span<const int32_t>(categories[i]); }, options);
  }
};

Corpus Movies() {
  Corpus c;
  c.category_names = {"Sci-Fi", "Comedy", "Drama"};
  c.titles = {
      "Star Wars (1977)",                  // 0
      "Star Trek (2009)",                  // 1
      "Space Jam (1996)",                  // 2
      "Lost in Space (1998)",              // 3
      "Star Wars: The Clone Wars (2008)",  // 4
      "A Star Is Born (1954)",             // 5
      "Spaceballs (1987)",                 // 6
      "The Comedy of Errors (1983)",       // 7
      "Space Space Space (2000)",          // 8
      "Amélie (2001)",                     // 9
  };
  c.categories = {{0}, {0}, {1}, {0}, {0}, {2}, {0, 1}, {1}, {}, {1, 2}};
  return c;
}

// The scores the file comment defines, computed directly (double precision).
std::map<ItemIndex, double> Reference(const Corpus& c, const std::string& query,
                                      const LexicalIndexOptions& o = {}) {
  const int n = static_cast<int>(c.titles.size());
  std::vector<std::vector<std::string>> title(n), cats(n);
  double title_total = 0, cat_total = 0;
  for (int i = 0; i < n; ++i) {
    title[i] = LexicalWords(c.titles[i]);
    for (int32_t k : c.categories[i]) {
      for (std::string& w : LexicalWords(c.category_names[k])) cats[i].push_back(w);
    }
    title_total += title[i].size();
    cat_total += cats[i].size();
  }
  auto count = [](const std::vector<std::string>& v, const std::string& w) {
    return static_cast<double>(std::count(v.begin(), v.end(), w));
  };
  std::vector<std::string> words;
  for (const std::string& w : LexicalWords(query)) {
    if (std::find(words.begin(), words.end(), w) != words.end()) continue;
    int df = 0;
    for (int i = 0; i < n; ++i) df += count(title[i], w) + count(cats[i], w) > 0;
    if (df > 0) words.push_back(w);
  }
  std::map<ItemIndex, double> out;
  double idf_sum = 0;
  std::vector<double> idf;
  for (const std::string& w : words) {
    int df = 0;
    for (int i = 0; i < n; ++i) df += count(title[i], w) + count(cats[i], w) > 0;
    idf.push_back(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
    idf_sum += idf.back();
  }
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < words.size(); ++j) {
      const double tf =
          count(title[i], words[j]) / (1 - o.b + o.b * title[i].size() / (title_total / n)) +
          o.category_weight * count(cats[i], words[j]) /
              (1 - o.b + o.b * cats[i].size() / (cat_total / n));
      s += idf[j] * (o.k1 + 1) * tf / (o.k1 + tf);
    }
    if (s > 0) out[i] = s / idf_sum;
  }
  return out;
}

// Words: lower-cased ASCII letter and digit runs; UTF-8 bytes stay in words;
// everything else separates.
TEST(LexicalWordsTest, LowerCasedAlphanumericRunsKeepUtf8) {
  EXPECT_EQ(LexicalWords("Star Wars: Episode IV (1977)"),
            (std::vector<std::string>{"star", "wars", "episode", "iv", "1977"}));
  EXPECT_EQ(LexicalWords("Sci-Fi"), (std::vector<std::string>{"sci", "fi"}));
  EXPECT_EQ(LexicalWords("Amélie"), (std::vector<std::string>{"amélie"}));
  EXPECT_EQ(LexicalWords("R2D2's  \t"), (std::vector<std::string>{"r2d2", "s"}));
  EXPECT_TRUE(LexicalWords(" -- ").empty());
}

// Every score equals the BM25F formula of the header, for one-word,
// many-word, category and mixed queries.
TEST(LexicalIndexTest, ScoresAreBm25fOfTitleAndCategories) {
  const Corpus c = Movies();
  const LexicalIndex index = c.Build();
  EXPECT_EQ(index.num_items(), 10);
  for (const std::string q : {"star", "star wars", "space", "comedy", "space comedy", "sci-fi star",
                              "Wars WARS wars", "amélie 2001"}) {
    const LexicalMatches m = index.Match(q);
    const std::map<ItemIndex, double> expected = Reference(c, q);
    for (ItemIndex i = 0; i < index.num_items(); ++i) {
      const auto it = expected.find(i);
      EXPECT_NEAR(m.score(i), it == expected.end() ? 0.0 : it->second, 1e-5)
          << "query \"" << q << "\", item " << i;
    }
    EXPECT_EQ(m.Top(100).size(), expected.size()) << q;
  }
  LexicalIndexOptions other;
  other.k1 = 2.0f;
  other.b = 0.3f;
  other.category_weight = 1.0f;
  const LexicalIndex tuned = c.Build(other);
  const std::map<ItemIndex, double> expected = Reference(c, "space comedy", other);
  for (ItemIndex i = 0; i < tuned.num_items(); ++i) {
    const auto it = expected.find(i);
    EXPECT_NEAR(tuned.Match("space comedy").score(i), it == expected.end() ? 0.0 : it->second, 1e-5)
        << "item " << i;
  }
}

// idf and tf behave: a rarer word weighs more, a repeated word more than one
// occurrence, a short title more than a long one, a title word more than the
// same word as a category.
TEST(LexicalIndexTest, TfAndIdfSanity) {
  const Corpus c = Movies();
  const LexicalIndex index = c.Build();
  EXPECT_EQ(index.DocumentFrequency("star"), 4);
  EXPECT_EQ(index.DocumentFrequency("wars"), 2);
  EXPECT_EQ(index.DocumentFrequency("comedy"), 4);  // items 2, 6, 7 (title too), 9
  EXPECT_EQ(index.DocumentFrequency("spaceballs"), 1);
  EXPECT_EQ(index.DocumentFrequency("nope"), 0);

  // "star wars": both words beat one; in "star space" the rarer "space"
  // (3 items against 4) weighs more, at equal title lengths.
  const LexicalMatches sw = index.Match("star wars");
  EXPECT_GT(sw.score(0), sw.score(1));
  const std::vector<ScoredIndex> top = sw.Top(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_TRUE((top[0].item == 0 || top[0].item == 4) && (top[1].item == 0 || top[1].item == 4));
  const LexicalMatches star_space = index.Match("star space");
  EXPECT_GT(star_space.score(2), star_space.score(0));
  // tf: "Space Space Space" beats "Space Jam" (same length); length: "Space
  // Jam (1996)" beats "Lost in Space (1998)".
  const LexicalMatches space = index.Match("space");
  EXPECT_GT(space.score(8), space.score(2));
  EXPECT_GT(space.score(2), space.score(3));
  // Title beats category: "The Comedy of Errors" over the Comedy items.
  const LexicalMatches comedy = index.Match("comedy");
  EXPECT_EQ(comedy.Top(1)[0].item, 7);
  EXPECT_GT(comedy.score(2), 0.0f);
  EXPECT_GT(comedy.score(7), comedy.score(2));
  // A whole word only: "space" does not match "Spaceballs".
  EXPECT_EQ(space.score(6), 0.0f);
}

// A word in every item still scores (idf > 0), equally for equal items; the
// query's other words decide; equal scores are listed by item index, every time.
TEST(LexicalIndexTest, WordInEveryItemAndDeterministicTies) {
  Corpus c;
  c.category_names = {"Drama"};
  for (int i = 0; i < 8; ++i) {
    c.titles.push_back(i % 2 == 0 ? "the film" : "the film again");
    c.categories.push_back({0});
  }
  c.titles[5] = "the rare film";
  const LexicalIndex index = c.Build();
  EXPECT_EQ(index.DocumentFrequency("drama"), 8);
  const LexicalMatches the = index.Match("the");
  for (int i = 0; i < 8; ++i) EXPECT_GT(the.score(i), 0.0f) << i;
  EXPECT_EQ(the.score(0), the.score(2));
  std::vector<ScoredIndex> top = the.Top(8);
  ASSERT_EQ(top.size(), 8u);
  for (size_t i = 1; i < top.size(); ++i) {
    ASSERT_TRUE(RanksBefore(top[i - 1], top[i])) << i;
  }
  // Equal scores: ascending item index, the same on every call.
  EXPECT_EQ(top[0].item, 0);
  EXPECT_EQ(top[1].item, 2);
  for (int round = 0; round < 3; ++round) {
    const std::vector<ScoredIndex> again = index.Match("the").Top(8);
    for (size_t i = 0; i < top.size(); ++i) EXPECT_EQ(again[i].item, top[i].item);
  }
  // The rare word decides; the common one only breaks ties.
  EXPECT_EQ(index.Match("the rare").Top(1)[0].item, 5);
  EXPECT_GT(index.Match("the rare").score(5), 0.5f);
}

// An item that holds every query word once in a title of average length
// scores 1; unknown words change nothing; repeated words count once.
TEST(LexicalIndexTest, NormalisedToTheQuery) {
  Corpus c;
  c.category_names = {};
  c.titles = {"red fox", "blue fox", "red cat", "green dog"};
  c.categories.assign(4, {});
  const LexicalIndex index = c.Build();
  EXPECT_NEAR(index.Match("red fox").score(0), 1.0f, 1e-6);
  EXPECT_NEAR(index.Match("red fox qqq").score(0), 1.0f, 1e-6);
  EXPECT_EQ(index.Match("fox fox red").score(1), index.Match("red fox").score(1));
  EXPECT_NEAR(index.Match("red fox").score(1), 0.5f, 1e-6);  // equal idf, one of two
  const LexicalMatches none = index.Match("purple qqq");
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.Top(5).empty());
  EXPECT_EQ(none.score(0), 0.0f);
  EXPECT_TRUE(LexicalIndex().Match("red").empty());
}

// Queries are bounded: at most kMaxQueryWords distinct known words are read
// (in query order); the most common words are dropped once the postings read
// would pass max(items, 2^16), and still count against the score. Dense and
// sparse accumulation give the same scores.
TEST(LexicalIndexTest, QueryWordsAndPostingsAreBounded) {
  Corpus small;
  small.category_names = {};
  std::string every;
  for (int w = 0; w < 40; ++w) absl::StrAppend(&every, "w", w, " ");
  small.titles = {every, "w39 w38", "other"};
  small.categories.assign(3, {});
  const LexicalIndex index = small.Build();
  std::string query;
  for (int w = 0; w < 40; ++w) absl::StrAppend(&query, "qqq", w, " w", w, " ");
  const LexicalMatches m = index.Match(query);
  EXPECT_EQ(m.words(), LexicalIndex::kMaxQueryWords);
  EXPECT_EQ(m.scored_words(), LexicalIndex::kMaxQueryWords);
  EXPECT_EQ(m.score(1), 0.0f);  // w38 and w39 were past the first 32 words
  EXPECT_GT(m.score(0), 0.0f);

  // 40,000 items, "common", "everywhere" and "more" in all of them: after
  // "unique" (1 posting) and "common" (40,000), a third 40,000 would pass
  // 2^16: "everywhere" and "more" are dropped.
  Corpus big;
  big.category_names = {};
  for (int i = 0; i < 40000; ++i) {
    big.titles.push_back(i == 7 ? "common everywhere more unique" : "common everywhere more");
  }
  big.categories.assign(big.titles.size(), {});
  const LexicalIndex large = big.Build();
  const LexicalMatches bounded = large.Match("more everywhere common unique");
  EXPECT_EQ(bounded.words(), 4);
  EXPECT_EQ(bounded.scored_words(), 2);
  EXPECT_EQ(bounded.Top(1)[0].item, 7);
  // The dense path (postings > items / 8) and the sparse one agree.
  const LexicalMatches sparse = large.Match("unique");
  const LexicalMatches dense = large.Match("unique common");
  EXPECT_GT(sparse.score(7), 0.0f);
  EXPECT_GT(dense.score(7), dense.score(8));
  EXPECT_EQ(dense.Top(3).size(), 3u);
  EXPECT_EQ(dense.Top(3)[0].item, 7);
  EXPECT_EQ(dense.Top(3)[1].item, 0);
  EXPECT_EQ(dense.Top(3)[2].item, 1);
}

// Memory is reported and grows with postings.
TEST(LexicalIndexTest, ReportsSize) {
  const LexicalIndex index = Movies().Build();
  EXPECT_EQ(index.num_postings(), 49);  // distinct (item, word) pairs
  EXPECT_GT(index.vocabulary_size(), 20);
  EXPECT_GT(index.MemoryBytes(), index.num_postings() * 8);
}

}  // namespace
}  // namespace recsys
