// Lexical search over item titles and category names: an inverted index scored
// with BM25F (Robertson & Zaragoza, "The Probabilistic Relevance Framework:
// BM25 and Beyond", 2009), built in memory from the catalogue when a bundle is
// loaded for retrieval (ModelBundle::Load with BundleParts::kRetrieval);
// nothing of it is saved in the bundle.
//
//   LexicalIndex index = LexicalIndex::Build(titles, category_names, categories_of);
//   LexicalMatches m = index.Match("star wars");
//   for (const ScoredIndex& s : m.Top(100)) ...;   m.score(item) for any item
//
// Words (LexicalWords): runs of ASCII letters and digits, lower-cased; bytes
// >= 0x80 (UTF-8) belong to words too and are kept as they are ("Amélie" is
// one word, matched exactly, without Unicode case folding); every other byte
// separates words. A MovieLens title's year "(1995)" is a word like any
// other: every title has one, so it shifts every length alike, and a query
// "alien 1979" can use it.
//
// Scoring. Two fields: the title (weight 1) and the item's category names
// (weight kCategoryWeight: a category is a weaker statement about an item than
// its own title). For item d and word w, BM25F's pseudo-frequency
//   tf~(w, d) = sum over fields f of  weight_f * tf_f / (1 - b + b * len_f(d) / avglen_f)
// saturates to impact(w, d) = (k1 + 1) * tf~ / (k1 + tf~): a word met once in
// a title of average length has impact 1. idf(w) = ln(1 + (N - df + 0.5) /
// (df + 0.5)), positive even for a word in every item. A query's score for d
// is
//   sum over its words w of idf(w) * impact(w, d)  /  sum over its words of idf(w)
// over the query's distinct known words: about 1 for an item whose title
// holds each word once (more for short titles, less for long ones), the
// matched share of the query's idf for an item that holds only some. Words the
// index does not know are left out of both sums.
//
// Cost. Build: O(total words) time, postings written in item order (each
// posting list is sorted by item). Memory: 8 bytes per posting (item, impact;
// one per distinct (item, word) pair), 8 per word for offsets plus 4 for idf,
// and the vocabulary hash map (the words themselves); the build temporarily
// needs about as much again. Match: only the postings of the query's words:
// at most kMaxQueryWords distinct known words (in query order), rarest first,
// and no word whose postings would take the total past max(items, 2^16)
// (the most common words, with the smallest idf, are the ones left out; they
// still count in the normalising sum). Scores accumulate in a hash map, or in
// a dense array when the postings read exceed items / 8 (cheaper then: one
// zeroed array, O(items) bytes, and the matched items listed for Top).
//
// Threading: immutable after Build; const methods are safe to call
// concurrently. A LexicalMatches belongs to one caller.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "common/data/dataset.h"
#include "common/topk.h"

namespace recsys {

struct LexicalIndexOptions {
  float k1 = 1.2f;               // term-frequency saturation
  float b = 0.75f;               // length normalisation (0 = none, 1 = full)
  float category_weight = 0.5f;  // weight of the category-name field (title: 1)
};

// The words of `text` as the index sees them (see the file comment).
std::vector<std::string> LexicalWords(absl::string_view text);

// One query's scores over the items it matched.
class LexicalMatches {
 public:
  LexicalMatches() = default;

  // No known word in the query: every score is 0 and Top is empty.
  bool empty() const { return words_ == 0; }
  // Distinct known query words (at most kMaxQueryWords), and how many of them
  // were scored (the rest were too common for the postings bound).
  int words() const { return words_; }
  int scored_words() const { return scored_words_; }
  // The item's score (0 when it holds none of the scored words).
  float score(ItemIndex item) const;
  // The best k matched items (score > 0), score descending, then item index
  // ascending (RanksBefore). O(matched log k).
  std::vector<ScoredIndex> Top(int k) const;

 private:
  friend class LexicalIndex;
  int words_ = 0;
  int scored_words_ = 0;
  absl::flat_hash_map<ItemIndex, float> sparse_;
  std::vector<float> dense_;        // size num_items when used instead of sparse_
  std::vector<ItemIndex> touched_;  // with dense_: the items it holds a score for
};

class LexicalIndex {
 public:
  // Longest query the index reads, in distinct known words.
  static constexpr int kMaxQueryWords = 32;

  LexicalIndex() = default;  // empty: matches nothing

  // Indexes items 0..titles.size()-1: item i's title and the names of its
  // categories (indices into category_names).
  static LexicalIndex Build(std::span<const std::string> titles,
                            std::span<const std::string> category_names,
                            absl::FunctionRef<std::span<const int32_t>(ItemIndex)> categories_of,
                            const LexicalIndexOptions& options = {});

  LexicalMatches Match(absl::string_view query) const;

  int32_t num_items() const { return num_items_; }
  int32_t vocabulary_size() const { return static_cast<int32_t>(idf_.size()); }
  int64_t num_postings() const { return static_cast<int64_t>(items_.size()); }
  // Document frequency of `word` (as LexicalWords gives it), 0 if unknown.
  int32_t DocumentFrequency(absl::string_view word) const;
  // Bytes held: postings, offsets, idf and the vocabulary (an estimate of
  // the hash map's own overhead included).
  int64_t MemoryBytes() const;

 private:
  int32_t num_items_ = 0;
  absl::flat_hash_map<std::string, int32_t> vocabulary_;  // word -> word id
  std::vector<float> idf_;                                // per word id
  std::vector<int64_t> offsets_;                          // word id -> postings, size words + 1
  std::vector<ItemIndex> items_;                          // postings: item, ascending per word
  std::vector<float> impacts_;                            // postings: impact(w, item)
};

}  // namespace recsys
