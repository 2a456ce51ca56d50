// Item-centred lookups of recsys.v1.Retrieval over one bundle snapshot:
//   Search:        free text -> two signals, fused by a weighted sum (below):
//                  lexical: BM25F over titles and category names
//                  (ModelBundle::lexical_index, common/index/lexical_index.h);
//                  semantic: ContentModel::EmbedText (the training embedding)
//                  -> content FAISS index;
//   SimilarItems:  an item's content embedding -> content FAISS index, and its
//                  item-kNN (co-consumption) neighbours.
// Requests are assumed validated (requests.h).
//
// Threading: const over an immutable bundle; safe to call concurrently.
// Cost: Search: one FAISS search over the catalogue (O(items * dim) exact, less
// with HNSW), the postings of the query's words (bounded, see LexicalIndex),
// and one dot product per lexical candidate; SimilarItems: the FAISS search
// plus O(neighbours log k).
#pragma once

#include "absl/status/status.h"
#include "common/bundle/model_bundle.h"
#include "recsys/v1/retrieval.pb.h"

namespace recsys::retrieval {

// Search's fusion weight: score = kSearchLexicalWeight * lexical
//   + (1 - kSearchLexicalWeight) * cosine, where lexical is LexicalMatches'
// score (about 1 for an item whose title holds every known query word once, the
// matched share of the query's idf for a partial match, 0 for none) and cosine
// the inner product of the unit-length query and item embeddings (-1..1, 0 for
// an item or query without known words). See item_search.cc for why.
inline constexpr float kSearchLexicalWeight = 0.7f;
// Each signal contributes its best max(k, kSearchFusionDepth) items as
// candidates; every candidate then gets both scores exactly.
inline constexpr int kSearchFusionDepth = 100;

// Best `k` items by the fused score (ties: smaller item index first), each with
// title and categories. A query none of whose words either signal knows gives
// no results (OK); one the lexical index does not know (or a bundle loaded
// without it) gives the embedding's order; one the embedding does not know,
// the lexical order.
absl::Status SearchItems(const ModelBundle& bundle, const v1::SearchRequest& request,
                         v1::SearchResponse* response);

// NotFound for an item id the bundle does not know. Either list may be empty
// (an item without text has no content neighbours; one never co-consumed has no
// item-kNN neighbours). The item itself is never returned.
absl::Status FindSimilarItems(const ModelBundle& bundle, const v1::SimilarItemsRequest& request,
                              v1::SimilarItemsResponse* response);

}  // namespace recsys::retrieval
