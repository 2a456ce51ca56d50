#include "common/models/content.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/bundle/array_file.h"
#include "common/data/loader.h"
#include "common/topk.h"

namespace recsys {
namespace {

ItemInfo Item(std::string title, std::vector<std::string> categories, std::string text = "") {
  ItemInfo info;
  info.title = std::move(title);
  info.categories = std::move(categories);
  info.text = std::move(text);
  info.has_metadata = true;
  return info;
}

// Three comedies, two sci-fi films, two horror films and one id without metadata.
std::vector<ItemInfo> TinyCatalogue() {
  return {
      Item("Funny Business", {"Comedy"}, "laugh"),
      Item("Laugh Riot", {"Comedy"}),
      Item("Space Wars", {"Sci-Fi", "Action"}, "space laser"),
      Item("Star Battle", {"Sci-Fi", "Action"}, "space"),
      Item("Ghost House", {"Horror"}, "scary ghost"),
      Item("Night Terror", {"Horror"}, "scary"),
      Item("Happy Jokes", {"Comedy", "Romance"}),
      ItemInfo{},  // interactions only, no metadata
  };
}

ContentParams TinyParams() {
  ContentParams p;
  p.dim = 8;
  p.min_df = 2;
  p.max_df_ratio = 0.5;
  return p;
}

float Dot(const float* a, const float* b, int d) {
  float s = 0;
  for (int j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

// Best `k` items by inner product with `q`, skipping `self`.
std::vector<ItemIndex> Nearest(const ContentModel& m, const float* q, int k, ItemIndex self = -1) {
  std::vector<float> scores(m.num_items());
  for (ItemIndex i = 0; i < m.num_items(); ++i) scores[i] = Dot(m.item_embedding(i), q, m.dim());
  std::vector<ItemIndex> out;
  for (const ScoredIndex& s : TopKDense(scores, k, [&](ItemIndex i) { return i == self; })) {
    out.push_back(s.item);
  }
  return out;
}

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Tokens are lower-cased alphanumeric runs; "cat:<body>" is one token; UTF-8 bytes are letters.
TEST(ContentTokenizer, WordsAndCategoryTokens) {
  EXPECT_EQ(TokenizeText("Sci-Fi, cat:Sci-Fi  (1995) \xC3\x9C"
                         "ber Cat: x"),
            (std::vector<std::string>{"sci", "fi", "cat:sci-fi", "1995",
                                      "\xC3\x9C"
                                      "ber",
                                      "cat", "x"}));
  const auto doc = TokenizeText(ItemDocument(Item("Toy Story", {"Science Fiction"}, "pixar")));
  EXPECT_NE(std::find(doc.begin(), doc.end(), "cat:science_fiction"), doc.end());
  EXPECT_NE(std::find(doc.begin(), doc.end(), "science"), doc.end());
  EXPECT_NE(std::find(doc.begin(), doc.end(), "pixar"), doc.end());
}

// Items sharing genre words are nearer to each other than to unrelated items.
TEST(ContentModel, SharedGenresAreNearer) {
  auto model = ContentModel::Fit(TinyCatalogue(), TinyParams());
  ASSERT_TRUE(model.ok()) << model.status();
  const int d = model->dim();
  ASSERT_GE(d, 1);
  EXPECT_LE(d, 8);
  EXPECT_EQ(model->num_items(), 8);
  auto cos = [&](ItemIndex a, ItemIndex b) {
    return Dot(model->item_embedding(a), model->item_embedding(b), d);
  };
  EXPECT_GT(cos(0, 1), cos(0, 2));
  EXPECT_GT(cos(0, 6), cos(0, 4));
  EXPECT_GT(cos(2, 3), cos(2, 0));
  EXPECT_GT(cos(2, 3), cos(2, 5));
  EXPECT_GT(cos(4, 5), cos(4, 1));
  EXPECT_GT(cos(4, 5), cos(4, 3));
  // Rows are unit length, except the item without metadata, which is zero.
  for (ItemIndex i = 0; i < 7; ++i) EXPECT_NEAR(cos(i, i), 1.0f, 1e-5);
  EXPECT_EQ(cos(7, 7), 0.0f);
}

// With dim >= the TF-IDF rank, the SVD keeps the whole row space, so item
// similarities equal TF-IDF cosines computed from the documented formulas.
// TF-IDF cosines of items i, j < `pairs_of` computed directly must equal
// the embeddings' dot products when the fit keeps the full rank.
void ExpectFullRankCosines(const std::vector<ItemInfo>& items, const ContentParams& params,
                           int pairs_of) {
  auto model = ContentModel::Fit(items, params);
  ASSERT_TRUE(model.ok()) << model.status();
  // Reference TF-IDF: TF = 1 + log(count), IDF = log(N / df) + 1, vocabulary
  // = terms with min_df <= df <= max_df_ratio * N, rows L2-normalised.
  std::vector<absl::flat_hash_map<std::string, int>> counts;
  absl::flat_hash_map<std::string, int> df;
  int docs = 0;
  for (const ItemInfo& info : items) {
    counts.emplace_back();
    if (!info.has_metadata) continue;
    ++docs;
    for (const std::string& t : TokenizeText(ItemDocument(info))) ++counts.back()[t];
    for (const auto& [t, c] : counts.back()) ++df[t];
  }
  std::vector<absl::flat_hash_map<std::string, double>> rows(items.size());
  int vocab = 0;
  for (const auto& [t, f] : df) vocab += (f >= params.min_df && f <= params.max_df_ratio * docs);
  EXPECT_EQ(model->vocabulary_size(), vocab);
  for (size_t i = 0; i < items.size(); ++i) {
    double norm2 = 0;
    for (const auto& [t, c] : counts[i]) {
      const int f = df[t];
      if (f < params.min_df || f > params.max_df_ratio * docs) continue;
      const double w = (1 + std::log(c)) * (std::log(double(docs) / f) + 1);
      rows[i][t] = w;
      norm2 += w * w;
    }
    for (auto& [t, w] : rows[i]) w /= std::sqrt(norm2);
  }
  for (ItemIndex i = 0; i < pairs_of; ++i) {
    for (ItemIndex j = 0; j < pairs_of; ++j) {
      double want = 0;
      for (const auto& [t, w] : rows[i]) {
        auto it = rows[j].find(t);
        if (it != rows[j].end()) want += w * it->second;
      }
      EXPECT_NEAR(Dot(model->item_embedding(i), model->item_embedding(j), model->dim()), want, 1e-5)
          << i << " " << j;
    }
  }
}

TEST(ContentModel, FullRankPreservesTfIdfCosines) {
  ExpectFullRankCosines(TinyCatalogue(), TinyParams(), 7);
}

// The same on a catalogue large enough for the tall-matrix path (Cholesky QR,
// threaded products): 60,000 items of three words from a 30-word vocabulary.
TEST(ContentModel, FullRankPreservesTfIdfCosinesOnALargeCatalogue) {
  std::vector<ItemInfo> items;
  uint64_t x = 12345;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((x >> 33) % 30);
  };
  for (int i = 0; i < 60000; ++i) {
    std::string text;
    for (int w = 0; w < 3; ++w) text += "w" + std::to_string(next()) + " ";
    items.push_back(Item("", {}, text));
  }
  ContentParams params;
  params.dim = 48;  // above the vocabulary's 30 terms: full rank
  params.min_df = 1;
  params.max_df_ratio = 1.0;
  ExpectFullRankCosines(items, params, 12);
}

// A free-text query "comedy" lands nearest to the three comedies.
TEST(ContentModel, TextQueryFindsComedies) {
  auto model = ContentModel::Fit(TinyCatalogue(), TinyParams());
  ASSERT_TRUE(model.ok()) << model.status();
  const auto q = model->EmbedText("comedy");
  ASSERT_EQ(static_cast<int>(q.size()), model->dim());
  auto top = Nearest(*model, q.data(), 3);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<ItemIndex>{0, 1, 6}));
}

// Embedding an item's own document reproduces its catalogue embedding.
TEST(ContentModel, EmbedTextOfItemDocumentEqualsItemEmbedding) {
  const auto items = TinyCatalogue();
  auto model = ContentModel::Fit(items, TinyParams());
  ASSERT_TRUE(model.ok()) << model.status();
  for (ItemIndex i = 0; i < 7; ++i) {
    const auto e = model->EmbedText(ItemDocument(items[i]));
    for (int j = 0; j < model->dim(); ++j) {
      EXPECT_NEAR(e[j], model->item_embedding(i)[j], 1e-6) << "item " << i << " dim " << j;
    }
  }
}

// Text with no vocabulary word embeds as the zero vector.
TEST(ContentModel, UnknownWordsGiveZeroVector) {
  auto model = ContentModel::Fit(TinyCatalogue(), TinyParams());
  ASSERT_TRUE(model.ok());
  for (const char* text : {"zebra quantum", "", "!!! ???"}) {
    const auto e = model->EmbedText(text);
    ASSERT_EQ(static_cast<int>(e.size()), model->dim());
    for (float x : e) EXPECT_EQ(x, 0.0f) << text;
  }
}

// Two fits with the same seed are bit-identical.
TEST(ContentModel, FitIsDeterministic) {
  auto a = ContentModel::Fit(TinyCatalogue(), TinyParams());
  auto b = ContentModel::Fit(TinyCatalogue(), TinyParams());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->dim(), b->dim());
  EXPECT_EQ(a->item_embeddings(), b->item_embeddings());
  EXPECT_EQ(a->EmbedText("space comedy"), b->EmbedText("space comedy"));
}

// Save then Load gives the same embeddings and the same text embedding.
TEST(ContentModel, SaveLoadRoundTrip) {
  auto model = ContentModel::Fit(TinyCatalogue(), TinyParams());
  ASSERT_TRUE(model.ok());
  const std::string dir = TempDir("content_roundtrip");
  auto files = model->Save(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->size(), 4u);
  auto loaded = ContentModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->dim(), model->dim());
  EXPECT_EQ(loaded->num_items(), model->num_items());
  EXPECT_EQ(loaded->vocabulary_size(), model->vocabulary_size());
  EXPECT_EQ(loaded->item_embeddings(), model->item_embeddings());
  EXPECT_EQ(loaded->EmbedText("scary space laugh"), model->EmbedText("scary space laugh"));
}

// Load names the offending file when shapes disagree or a file is missing.
TEST(ContentModel, LoadRejectsInconsistentFiles) {
  auto model = ContentModel::Fit(TinyCatalogue(), TinyParams());
  ASSERT_TRUE(model.ok());
  const std::string dir = TempDir("content_broken");
  ASSERT_TRUE(model->Save(dir).ok());
  const std::vector<float> wrong(3, 1.0f);
  ASSERT_TRUE(WriteFloatArray(dir + "/content_idf.arr", {3}, wrong.data()).ok());
  auto loaded = ContentModel::Load(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("content_idf.arr"), absl::string_view::npos)
      << loaded.status();

  ASSERT_TRUE(model->Save(dir).ok());
  ASSERT_TRUE(WriteFloatArray(dir + "/content_items.arr", {1, 3}, wrong.data()).ok());
  loaded = ContentModel::Load(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("content_items.arr"), absl::string_view::npos)
      << loaded.status();

  std::filesystem::remove(dir + "/content_vocab.arr");
  EXPECT_FALSE(ContentModel::Load(dir).ok());
}

// Empty catalogues and bad parameters are errors, and dim clamps to the data's rank.
TEST(ContentModel, FitValidatesInput) {
  EXPECT_FALSE(ContentModel::Fit({}, TinyParams()).ok());
  ContentParams bad = TinyParams();
  bad.dim = 0;
  EXPECT_FALSE(ContentModel::Fit(TinyCatalogue(), bad).ok());
  ContentParams big = TinyParams();
  big.dim = 500;
  auto model = ContentModel::Fit(TinyCatalogue(), big);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_LE(model->dim(), std::min(model->vocabulary_size(), 7));
}

// On MovieLens, Toy Story's nearest neighbours include another animated/children film.
TEST(ContentModel, MovieLensToyStoryNeighbours) {
  const std::string dir = std::string(RECSYS_DATA_DIR) + "/ml-latest-small";
  if (!std::filesystem::exists(dir + "/movies.csv")) GTEST_SKIP() << "no data at " << dir;
  auto data = LoadDataset(dir, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  const auto start = std::chrono::steady_clock::now();
  auto model = ContentModel::Fit(data->item_info, ContentParams{});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(model.ok()) << model.status();
  RecordProperty("fit_seconds", std::to_string(seconds));
  std::printf("content Fit on %d items: %.3f s (dim %d, vocabulary %d)\n", model->num_items(),
              seconds, model->dim(), model->vocabulary_size());
  ItemIndex toy = -1;
  for (ItemIndex i = 0; i < data->num_items(); ++i) {
    if (data->item_info[i].title == "Toy Story (1995)") toy = i;
  }
  ASSERT_GE(toy, 0);
  const auto neighbours = Nearest(*model, model->item_embedding(toy), 10, toy);
  int animated = 0;
  for (ItemIndex n : neighbours) {
    const auto& cats = data->item_info[n].categories;
    if (std::find(cats.begin(), cats.end(), "Animation") != cats.end() ||
        std::find(cats.begin(), cats.end(), "Children") != cats.end()) {
      ++animated;
    }
  }
  EXPECT_GE(animated, 5);
  for (ItemIndex n : neighbours) std::printf("  neighbour: %s\n", data->item_info[n].title.c_str());
  // Searching by the catalogue document finds Toy Story itself first.
  const auto q = model->EmbedText(ItemDocument(data->item_info[toy]));
  EXPECT_EQ(Nearest(*model, q.data(), 1)[0], toy);
}

}  // namespace
}  // namespace recsys
