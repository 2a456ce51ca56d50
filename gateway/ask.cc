#include "gateway/ask.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace recsys::gateway {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

// Words that say nothing about which item is meant: articles, pronouns,
// question and request words, and the catalogue's own kind ("movie" would
// match every title that contains it). Compared before the plural is dropped.
// Kept short on purpose: a word that is part of titles ("good", "best",
// "star") is never a stop word.
constexpr absl::string_view kStopWords[] = {
    "a",      "about",     "an",    "and",   "any",       "are",     "as",   "at",    "be",
    "by",     "can",       "could", "did",   "do",        "does",    "film", "films", "find",
    "for",    "from",      "give",  "how",   "i",         "in",      "is",   "it",    "its",
    "like",   "looking",   "me",    "movie", "movies",    "my",      "of",   "on",    "or",
    "please", "recommend", "show",  "some",  "something", "suggest", "that", "the",   "there",
    "these",  "this",      "those", "to",    "want",      "was",     "we",   "were",  "what",
    "when",   "where",     "which", "who",   "whom",      "whose",   "why",  "with",  "would",
    "you",    "your",
};

bool IsStopWord(absl::string_view w) {
  return std::find(std::begin(kStopWords), std::end(kStopWords), w) != std::end(kStopWords);
}

// ASCII letters and digits, and every byte of a multi-byte UTF-8 character.
bool IsWordByte(unsigned char c) { return c >= 0x80 || absl::ascii_isalnum(c); }

// The matching form of a lower-case word: a plural "s" dropped ("wars" ->
// "war", not "glass" -> "glas"; words of three letters or fewer are kept).
void DropPlural(std::string* w) {
  if (w->size() >= 4 && w->back() == 's' && (*w)[w->size() - 2] != 's') w->pop_back();
}

void AddWord(std::string word, std::vector<std::string>* out) {
  if (word.empty() || IsStopWord(word)) return;
  DropPlural(&word);
  if (std::find(out->begin(), out->end(), word) == out->end()) out->push_back(std::move(word));
}

// The category names' words, plus each multi-word name run together
// ("Sci-Fi" -> "sci", "fi", "scifi"), so "sci-fi" and "scifi" both match.
std::vector<std::string> CategoryWords(const Catalogue& catalogue, ItemIndex item) {
  std::vector<std::string> words;
  for (int32_t c : catalogue.item_categories(item)) {
    const std::vector<std::string> parts = AskWords(catalogue.category_names[c]);
    for (const std::string& p : parts) {
      if (std::find(words.begin(), words.end(), p) == words.end()) words.push_back(p);
    }
    if (parts.size() > 1) AddWord(absl::StrJoin(parts, ""), &words);
  }
  return words;
}

bool Contains(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

// The question as the answer quotes it: runs of white space folded to one
// space, none at either end.
std::string Folded(absl::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte without a lead, or 0xF8..0xFF
    }
    if (s.size() - i <= static_cast<size_t>(extra)) return false;  // cut short
    for (int j = 1; j <= extra; ++j) {
      const unsigned char b = static_cast<unsigned char>(s[i + j]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    constexpr uint32_t kMinOf[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinOf[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

absl::Status ValidateAskRequest(const v1::AskRequest& request) {
  const std::string& q = request.question();
  if (q.empty()) return Invalid("question must not be empty");
  if (q.size() > kMaxQuestionBytes) {
    return Invalid(
        absl::StrCat("question of ", q.size(), " bytes (at most ", kMaxQuestionBytes, ")"));
  }
  if (!IsValidUtf8(q)) return Invalid("question must be valid UTF-8");
  if (Folded(q).empty()) return Invalid("question must not be only white space");
  if (request.k() < 0 || request.k() > kMaxAskK) {
    return Invalid(
        absl::StrCat("k must be in 0..", kMaxAskK, " (0 = ", kDefaultAskK, "), got ", request.k()));
  }
  return absl::OkStatus();
}

int AskK(const v1::AskRequest& request) { return request.k() == 0 ? kDefaultAskK : request.k(); }

int AskCandidateCount(int k, const AskOptions& options) {
  return std::max(k, std::min(std::max(4 * k, 30), options.max_candidates));
}

std::vector<std::string> AskWords(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (IsWordByte(c)) {
      word.push_back(absl::ascii_tolower(c));
    } else if (!word.empty()) {
      AddWord(std::move(word), &words);
      word.clear();
    }
  }
  AddWord(std::move(word), &words);
  return words;
}

std::string CategoryText(const Catalogue& catalogue, ItemIndex item) {
  std::string out;
  for (int32_t c : catalogue.item_categories(item)) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", catalogue.category_names[c]);
  }
  return out;
}

std::string ItemText(const Catalogue& catalogue, ItemIndex item) {
  const std::string categories = CategoryText(catalogue, item);
  if (categories.empty()) return catalogue.titles[item];
  return absl::StrCat(catalogue.titles[item], " [", categories, "]");
}

std::vector<AskScored> ScoreAskCandidates(const Catalogue& catalogue,
                                          const std::vector<std::string>& words,
                                          const v1::SearchResponse& search, int k,
                                          const AskOptions& options, int* unknown) {
  const double lexical_weight = std::clamp(options.lexical_weight, 0.0, 1.0);
  std::vector<AskScored> scored;
  scored.reserve(static_cast<size_t>(search.items_size()));
  absl::flat_hash_set<ItemIndex> seen;
  int skipped = 0;
  for (int rank = 0; rank < search.items_size(); ++rank) {
    const std::optional<int32_t> item = catalogue.ids.Find(search.items(rank).item_id());
    if (!item || *item >= static_cast<int32_t>(catalogue.titles.size())) {
      ++skipped;
      continue;
    }
    if (!seen.insert(*item).second) continue;
    AskScored s;
    s.item = *item;
    s.search_rank = rank;
    const std::vector<std::string> title = AskWords(catalogue.titles[*item]);
    const std::vector<std::string> categories = CategoryWords(catalogue, *item);
    int in_title = 0, in_categories = 0;
    for (const std::string& w : words) {
      const bool t = Contains(title, w), c = Contains(categories, w);
      in_title += t;
      in_categories += c;
      s.matched_words += t || c;
    }
    s.snippet_is_title = in_title >= in_categories;
    const double lexical =
        words.empty() ? 0.0 : static_cast<double>(s.matched_words) / words.size();
    s.score = static_cast<float>(lexical_weight * lexical + (1 - lexical_weight) / (1.0 + rank));
    scored.push_back(s);
  }
  if (unknown != nullptr) *unknown = skipped;
  std::stable_sort(scored.begin(), scored.end(),
                   [](const AskScored& a, const AskScored& b) { return a.score > b.score; });
  if (scored.size() > static_cast<size_t>(std::max(0, k))) scored.resize(std::max(0, k));
  return scored;
}

void AnswerExtractively(const ModelBundle& bundle, const v1::AskRequest& request,
                        const v1::SearchResponse& search, const AskOptions& options,
                        v1::AskResponse* response) {
  const Catalogue& catalogue = bundle.catalogue;
  const std::string& version = bundle.manifest.version();
  response->set_mode(kAskModeExtractive);
  response->set_model_version(version);
  const std::vector<std::string> words = AskWords(request.question());
  int unknown = 0;
  const std::vector<AskScored> scored =
      ScoreAskCandidates(catalogue, words, search, AskK(request), options, &unknown);
  bool any_match = false;
  std::vector<std::string> parts;
  for (const AskScored& s : scored) {
    v1::AskCitation* c = response->add_citations();
    c->set_item_id(catalogue.ids.Name(s.item));
    c->set_title(catalogue.titles[s.item]);
    for (int32_t cat : catalogue.item_categories(s.item)) {
      c->add_categories(catalogue.category_names[cat]);
    }
    c->set_snippet(s.snippet_is_title ? c->title() : CategoryText(catalogue, s.item));
    c->set_score(s.score);
    any_match |= s.matched_words > 0;
    parts.push_back(ItemText(catalogue, s.item));
  }
  const std::string question = Folded(request.question());
  if (scored.empty()) {
    response->set_answer(absl::StrCat("No catalogue item matches \"", question, "\"."));
    response->add_notes("the content search found no item for the question's words");
  } else if (!any_match) {
    response->set_answer(absl::StrCat("Closest catalogue items to \"", question,
                                      "\" by content: ", absl::StrJoin(parts, "; ")));
    response->add_notes(
        words.empty() ? "the question has only common words (e.g. \"what\", \"movie\"): citing the "
                        "content search's nearest items"
                      : "no word of the question matched a title or category: citing the content "
                        "search's nearest items");
  } else {
    response->set_answer(
        absl::StrCat("Best matches for \"", question, "\": ", absl::StrJoin(parts, "; ")));
  }
  if (unknown > 0) {
    response->add_notes(absl::StrCat(unknown, " search result(s) unknown to the catalogue of ",
                                     version, " skipped"));
  }
  if (!search.model_version().empty() && search.model_version() != version) {
    response->add_notes(absl::StrCat("retrieval serves model version ", search.model_version(),
                                     "; the catalogue is version ", version));
  }
}

}  // namespace recsys::gateway
