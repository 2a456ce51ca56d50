// Ask: extractive question answering over the catalogue, as pure functions
// (the handler in gateway_service.cc only moves data between them and the
// network).
//
//   question ──Search (retrieval, content embedding)──► candidates, best first
//            ──ScoreAskCandidates──► each candidate re-scored by the question's
//                                    words found in its title (the year in a
//                                    MovieLens title is a word) or category
//                                    names, combined with its search rank;
//                                    the best k kept
//            ──AnswerExtractively──► AskResponse: citations, an answer made of
//                                    catalogue text only, notes
//
// Words (AskWords): lower-case runs of ASCII letters and digits; bytes of
// multi-byte UTF-8 characters are kept inside a word, so "Amélie" stays one
// word instead of yielding "am" and "lie"; a trailing plural "s" is dropped
// ("wars" matches "war"); a short stop-word list (articles, question words,
// "movie", "film", ...) is left out, since those words carry no catalogue
// meaning and "movie" would match every title that contains it.
//
// Threading: free functions over immutable inputs; safe to call concurrently.
// Cost: O(candidates x (title + category names)) per call, no allocation per
// catalogue item beyond the candidates'.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/bundle/model_bundle.h"
#include "recsys/v1/recommender.pb.h"
#include "recsys/v1/retrieval.pb.h"

namespace recsys::gateway {

// Longest question, bytes.
inline constexpr size_t kMaxQuestionBytes = 1024;
// Cited items when the request asks for 0, and the most it may ask for.
inline constexpr int kDefaultAskK = 5;
inline constexpr int kMaxAskK = 20;
// The AskResponse.mode values.
inline constexpr char kAskModeExtractive[] = "extractive";
inline constexpr char kAskModeGenerator[] = "generator";

struct AskOptions {
  // The most candidates asked of retrieval's Search: its --max_k (default
  // 1000). At the defaults the request asks for at most 4 x kMaxAskK = 80.
  int max_candidates = 1000;
  // Weight of the lexical match in a citation's score; the search rank gets
  // the rest (see ScoreAskCandidates).
  double lexical_weight = 0.8;
};

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// InvalidArgument naming the field, else OK. Checks: question 1..1024 bytes,
// valid UTF-8, not only white space; k in 0..kMaxAskK.
absl::Status ValidateAskRequest(const v1::AskRequest& request);

// The citations a validated request asks for (0 → kDefaultAskK).
int AskK(const v1::AskRequest& request);

// Candidates to ask retrieval for: max(4k, 30), at most max_candidates (and
// at least k): enough that a lexical match ranked below the embedding's top k
// can still be cited.
int AskCandidateCount(int k, const AskOptions& options);

// The question's or a field's words, in order of first appearance, without
// duplicates or stop words (see the file comment).
std::vector<std::string> AskWords(absl::string_view text);

// A catalogue item's category names joined with ", " ("" without any).
std::string CategoryText(const Catalogue& catalogue, ItemIndex item);

// One re-scored candidate.
struct AskScored {
  ItemIndex item = 0;
  int search_rank = 0;           // 0-based position in retrieval's answer
  int matched_words = 0;         // distinct question words in title or categories
  bool snippet_is_title = true;  // else the category list
  float score = 0;
};

// Re-scores `search`'s items (best first, as retrieval answered) against the
// question's `words` (AskWords) and keeps the best `k`, best first:
//   score = lexical_weight x matched_words / |words|
//         + (1 - lexical_weight) / (1 + search_rank)
// At the defaults a matched word is worth 0.8 / |words| and the rank part is
// 0.2 for the search's first answer, 0.1 for the second, 0.04 for the fifth:
// among equal matches the search's order decides, and a match of a quarter of
// the words outweighs any rank. Without words every score is the rank part.
// Ties keep the search's order. Items the catalogue
// does not know (retrieval serving another version) are skipped and counted in
// `unknown` (may be null). The snippet is the field with more matched words,
// the title on a tie.
std::vector<AskScored> ScoreAskCandidates(const Catalogue& catalogue,
                                          const std::vector<std::string>& words,
                                          const v1::SearchResponse& search, int k,
                                          const AskOptions& options, int* unknown);

// "Title [Category, Category]" (the title alone without categories): how the
// extractive answer and the generator's passages show an item.
std::string ItemText(const Catalogue& catalogue, ItemIndex item);

// The extractive answer to `request` (validated) from retrieval's `search`
// answer, served from `bundle`'s catalogue: citations (at most AskK), answer
// text, mode "extractive", model_version and notes. The answer is
//   Best matches for "<question>": <ItemText>; <ItemText>; ...
// or, when no question word matched any candidate,
//   Closest catalogue items to "<question>" by content: ...
// (with a note saying so), or, without candidates,
//   No catalogue item matches "<question>".
// (the question with its runs of white space folded to one space).
void AnswerExtractively(const ModelBundle& bundle, const v1::AskRequest& request,
                        const v1::SearchResponse& search, const AskOptions& options,
                        v1::AskResponse* response);

}  // namespace recsys::gateway
