#include "common/retrieval/retriever.h"

#include "common/retrieval/sources/als.h"
#include "common/retrieval/sources/content.h"
#include "common/retrieval/sources/ease.h"
#include "common/retrieval/sources/itemknn.h"
#include "common/retrieval/sources/sequence.h"
#include "common/retrieval/sources/slist.h"
#include "common/retrieval/sources/trending.h"

namespace recsys {

const char* SourceName(SourceId s) {
  switch (s) {
    case SourceId::kContent:
      return "content";
    case SourceId::kItemKnn:
      return "itemknn";
    case SourceId::kAls:
      return "als";
    case SourceId::kTrending:
      return "trending";
    case SourceId::kSequence:
      return "sequence";
    case SourceId::kEase:
      return "ease";
    case SourceId::kSlist:
      return "slist";
  }
  return "?";
}

namespace retrieval {

RetrieverSet MakeDefaultRetrievers() {
  RetrieverSet set;
  set[static_cast<int>(SourceId::kContent)] = std::make_unique<ContentRetriever>();
  set[static_cast<int>(SourceId::kItemKnn)] = std::make_unique<ItemKnnRetriever>();
  set[static_cast<int>(SourceId::kAls)] = std::make_unique<AlsRetriever>();
  set[static_cast<int>(SourceId::kTrending)] = std::make_unique<TrendingRetriever>();
  set[static_cast<int>(SourceId::kSequence)] = std::make_unique<SequenceRetriever>();
  set[static_cast<int>(SourceId::kEase)] = std::make_unique<EaseRetriever>();
  set[static_cast<int>(SourceId::kSlist)] = std::make_unique<SlistRetriever>();
  return set;
}

const RetrieverSet& DefaultRetrievers() {
  static const RetrieverSet* const set = new RetrieverSet(MakeDefaultRetrievers());
  return *set;
}

}  // namespace retrieval
}  // namespace recsys
