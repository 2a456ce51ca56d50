#include "common/index/lexical_index.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace recsys {
namespace {

bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The best k of a stream of scored items (RanksBefore order), in O(n log k)
// without holding the stream: most offers lose to the current k-th at once.
class BestK {
 public:
  explicit BestK(int k) : k_(k) { heap_.reserve(k + 1); }
  void Offer(ItemIndex item, float score) {
    const ScoredIndex e{item, score};
    auto worse = [](const ScoredIndex& a, const ScoredIndex& b) { return RanksBefore(a, b); };
    if (static_cast<int>(heap_.size()) < k_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), worse);
    } else if (RanksBefore(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), worse);
    }
  }
  std::vector<ScoredIndex> Sorted() && {
    std::sort(heap_.begin(), heap_.end(), RanksBefore);
    return std::move(heap_);
  }

 private:
  const int k_;
  std::vector<ScoredIndex> heap_;  // worst kept entry at the front
};

// One distinct word of one item, with its count in each field.
struct Entry {
  int32_t word;
  uint32_t title_tf;
  uint32_t category_tf;
};

}  // namespace

std::vector<std::string> LexicalWords(absl::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::string word;
    while (i < text.size() && IsWordByte(static_cast<unsigned char>(text[i]))) {
      word.push_back(Lower(text[i++]));
    }
    words.push_back(std::move(word));
  }
  return words;
}

float LexicalMatches::score(ItemIndex item) const {
  if (!dense_.empty()) {
    return item >= 0 && static_cast<size_t>(item) < dense_.size() ? dense_[item] : 0.0f;
  }
  auto it = sparse_.find(item);
  return it == sparse_.end() ? 0.0f : it->second;
}

std::vector<ScoredIndex> LexicalMatches::Top(int k) const {
  if (k <= 0) return {};
  BestK best(k);
  if (!dense_.empty()) {
    for (ItemIndex i : touched_) best.Offer(i, dense_[i]);
  } else {
    for (const auto& [item, s] : sparse_) {
      if (s > 0.0f) best.Offer(item, s);
    }
  }
  return std::move(best).Sorted();
}

LexicalIndex LexicalIndex::Build(
    std::span<const std::string> titles, std::span<const std::string> category_names,
    absl::FunctionRef<std::span<const int32_t>(ItemIndex)> categories_of,
    const LexicalIndexOptions& options) {
  LexicalIndex index;
  const auto n = static_cast<int32_t>(titles.size());
  index.num_items_ = n;
  std::vector<int64_t> df;  // per word id
  auto word_id = [&](std::string word) {
    auto [it, inserted] =
        index.vocabulary_.try_emplace(std::move(word), static_cast<int32_t>(df.size()));
    if (inserted) df.push_back(0);
    return it->second;
  };

  // Category names are few: their words once, reused for every item.
  std::vector<std::vector<int32_t>> category_words(category_names.size());
  for (size_t c = 0; c < category_names.size(); ++c) {
    for (std::string& w : LexicalWords(category_names[c])) {
      category_words[c].push_back(word_id(std::move(w)));
    }
  }

  // Pass 1: each item's distinct words with their field counts, in item order.
  std::vector<int64_t> entry_offsets = {0};
  entry_offsets.reserve(static_cast<size_t>(n) + 1);
  std::vector<Entry> entries;
  std::vector<uint32_t> title_len(n), category_len(n);
  double title_total = 0, category_total = 0;
  std::vector<std::pair<int32_t, bool>> words;  // (word, in the category field)
  for (ItemIndex i = 0; i < n; ++i) {
    words.clear();
    for (std::string& w : LexicalWords(titles[i])) words.emplace_back(word_id(std::move(w)), false);
    title_len[i] = static_cast<uint32_t>(words.size());
    for (int32_t c : categories_of(i)) {
      // Weight 0 turns the field off (no posting may have a zero impact).
      if (c < 0 || static_cast<size_t>(c) >= category_words.size() ||
          !(options.category_weight > 0)) {
        continue;
      }
      for (int32_t w : category_words[c]) words.emplace_back(w, true);
    }
    category_len[i] = static_cast<uint32_t>(words.size()) - title_len[i];
    title_total += title_len[i];
    category_total += category_len[i];
    std::sort(words.begin(), words.end());
    for (size_t a = 0; a < words.size();) {
      Entry e{words[a].first, 0, 0};
      for (; a < words.size() && words[a].first == e.word; ++a) {
        ++(words[a].second ? e.category_tf : e.title_tf);
      }
      entries.push_back(e);
      ++df[e.word];
    }
    entry_offsets.push_back(static_cast<int64_t>(entries.size()));
  }

  // Pass 2: postings grouped by word (item order within a word), impacts.
  const size_t vocabulary = df.size();
  index.offsets_.assign(vocabulary + 1, 0);
  for (size_t w = 0; w < vocabulary; ++w) index.offsets_[w + 1] = index.offsets_[w] + df[w];
  index.items_.resize(entries.size());
  index.impacts_.resize(entries.size());
  const double avg_title = n > 0 && title_total > 0 ? title_total / n : 1.0;
  const double avg_category = n > 0 && category_total > 0 ? category_total / n : 1.0;
  const double k1 = options.k1, b = options.b;
  std::vector<int64_t> cursor(index.offsets_.begin(), index.offsets_.end() - 1);
  for (ItemIndex i = 0; i < n; ++i) {
    const double title_norm = 1.0 - b + b * title_len[i] / avg_title;
    const double category_norm = 1.0 - b + b * category_len[i] / avg_category;
    for (int64_t e = entry_offsets[i]; e < entry_offsets[i + 1]; ++e) {
      const Entry& x = entries[e];
      const double tf =
          x.title_tf / title_norm + options.category_weight * x.category_tf / category_norm;
      const int64_t at = cursor[x.word]++;
      index.items_[at] = i;
      index.impacts_[at] = static_cast<float>((k1 + 1.0) * tf / (k1 + tf));
    }
  }
  index.idf_.resize(vocabulary);
  for (size_t w = 0; w < vocabulary; ++w) {
    const double d = static_cast<double>(df[w]);
    index.idf_[w] = static_cast<float>(std::log(1.0 + (n - d + 0.5) / (d + 0.5)));
  }
  return index;
}

LexicalMatches LexicalIndex::Match(absl::string_view query) const {
  LexicalMatches m;
  std::vector<int32_t> ids;  // distinct known words, query order
  for (const std::string& w : LexicalWords(query)) {
    if (static_cast<int>(ids.size()) >= kMaxQueryWords) break;
    auto it = vocabulary_.find(w);
    if (it == vocabulary_.end()) continue;
    if (std::find(ids.begin(), ids.end(), it->second) == ids.end()) ids.push_back(it->second);
  }
  m.words_ = static_cast<int>(ids.size());
  if (ids.empty()) return m;
  double idf_sum = 0;
  for (int32_t w : ids) idf_sum += idf_[w];
  auto df = [this](int32_t w) { return offsets_[w + 1] - offsets_[w]; };
  // Rarest first; stop before a word that would take the postings read past
  // the bound (the first word is always read: its postings are at most N).
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return df(a) != df(b) ? df(a) < df(b) : a < b; });
  const int64_t bound = std::max<int64_t>(num_items_, int64_t{1} << 16);
  int64_t postings = 0;
  size_t used = 0;
  for (; used < ids.size(); ++used) {
    if (used > 0 && postings + df(ids[used]) > bound) break;
    postings += df(ids[used]);
  }
  ids.resize(used);
  m.scored_words_ = static_cast<int>(used);
  if (postings == 0 || idf_sum <= 0) return m;

  const bool dense = postings > num_items_ / 8;
  if (dense) {
    m.dense_.assign(num_items_, 0.0f);
  } else {
    m.sparse_.reserve(static_cast<size_t>(postings));
  }
  for (int32_t w : ids) {
    const auto weight = static_cast<float>(idf_[w] / idf_sum);
    for (int64_t p = offsets_[w]; p < offsets_[w + 1]; ++p) {
      const float add = weight * impacts_[p];
      if (dense) {
        float& score = m.dense_[items_[p]];
        if (score == 0.0f) m.touched_.push_back(items_[p]);  // impacts are > 0
        score += add;
      } else {
        m.sparse_[items_[p]] += add;
      }
    }
  }
  return m;
}

int32_t LexicalIndex::DocumentFrequency(absl::string_view word) const {
  auto it = vocabulary_.find(word);
  if (it == vocabulary_.end()) return 0;
  return static_cast<int32_t>(offsets_[it->second + 1] - offsets_[it->second]);
}

int64_t LexicalIndex::MemoryBytes() const {
  int64_t bytes = static_cast<int64_t>(
      items_.capacity() * sizeof(ItemIndex) + impacts_.capacity() * sizeof(float) +
      offsets_.capacity() * sizeof(int64_t) + idf_.capacity() * sizeof(float));
  // The map's slots (one control byte each) and the words too long for the
  // string's inline buffer.
  bytes += static_cast<int64_t>(vocabulary_.capacity() *
                                (sizeof(std::pair<const std::string, int32_t>) + 1));
  for (const auto& [word, id] : vocabulary_) {
    if (word.capacity() > std::string().capacity()) bytes += word.capacity() + 1;
  }
  return bytes;
}

}  // namespace recsys
