// Item-centred lookups of recsys.v1.Retrieval over one bundle snapshot:
//   Search:        free text -> ContentModel::EmbedText (the training embedding)
//                  -> content FAISS index;
//   SimilarItems:  an item's content embedding -> content FAISS index, and its
//                  item-kNN (co-consumption) neighbours.
// Requests are assumed validated (requests.h).
//
// Threading: const over an immutable bundle; safe to call concurrently.
// Cost: one FAISS search over the catalogue (O(items * dim) exact) plus, for
// SimilarItems, O(neighbours log k).
#pragma once

#include "absl/status/status.h"
#include "common/bundle/model_bundle.h"
#include "recsys/v1/retrieval.pb.h"

namespace recsys::retrieval {

// Best `k` items by inner product with the query's embedding, each with title
// and categories. No results (OK) when no query token is in the vocabulary.
absl::Status SearchItems(const ModelBundle& bundle, const v1::SearchRequest& request,
                         v1::SearchResponse* response);

// NotFound for an item id the bundle does not know. Either list may be empty
// (an item without text has no content neighbours; one never co-consumed has no
// item-kNN neighbours). The item itself is never returned.
absl::Status FindSimilarItems(const ModelBundle& bundle, const v1::SimilarItemsRequest& request,
                              v1::SimilarItemsResponse* response);

}  // namespace recsys::retrieval
