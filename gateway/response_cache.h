// An exact cache of full-path Recommend answers.
//
// A Recommend answer is a pure function of (the user context sent downstream —
// history after merging and truncation, as-of time, category hints —, k, the
// exclusions, the model version every stage served). The key holds the user id
// verbatim and a 64-bit fingerprint of the rest, so a Feedback event (which
// changes the history), a new model version (gateway bundle swap) or any other
// request option is a different key: a hit returns exactly what the backends
// would compute again. Only complete answers are stored (full path, no skipped
// retrieval source, every stage on the gateway's model version); entries also
// expire after a TTL, for backend flag changes the key cannot see.
//
// Bounded by memory: the answers' in-memory size (protobuf SpaceUsedLong plus
// the key and bookkeeping) stays within `max_bytes`, least recently used
// evicted first; an answer larger than a shard's budget is not stored. Spread
// over shards with their own lock. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {

struct ResponseCacheOptions {
  size_t max_bytes = 128 << 20;  // 0 disables the cache
  absl::Duration ttl = absl::Seconds(60);
  int shards = 16;
};

struct ResponseCacheKey {
  std::string user_id;
  uint64_t fingerprint = 0;
  bool operator==(const ResponseCacheKey& o) const {
    return fingerprint == o.fingerprint && user_id == o.user_id;
  }
  template <typename H>
  friend H AbslHashValue(H h, const ResponseCacheKey& k) {
    return H::combine(std::move(h), k.user_id, k.fingerprint);
  }
};

class ResponseCache {
 public:
  explicit ResponseCache(ResponseCacheOptions options);

  // Copies the cached answer into `out` and returns true on a fresh hit.
  bool Lookup(const ResponseCacheKey& key, absl::Time now, v1::RecommendResponse* out);
  void Insert(const ResponseCacheKey& key, absl::Time now, const v1::RecommendResponse& answer);

  bool enabled() const { return options_.max_bytes > 0; }
  // Bytes an entry is accounted for: the answer's SpaceUsedLong, the key and
  // the bookkeeping.
  static size_t Cost(const ResponseCacheKey& key, const v1::RecommendResponse& answer);
  size_t size() const;   // entries
  size_t bytes() const;  // accounted bytes of all entries

 private:
  struct Entry {
    ResponseCacheKey key;
    absl::Time expires;
    v1::RecommendResponse answer;
    size_t bytes = 0;
  };
  struct Shard {
    mutable absl::Mutex mu;
    std::list<Entry> lru ABSL_GUARDED_BY(mu);  // most recently used first
    absl::flat_hash_map<ResponseCacheKey, std::list<Entry>::iterator> index ABSL_GUARDED_BY(mu);
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
  };
  // Drops the entry `it` points at. Requires shard.mu.
  static void Erase(Shard& shard, std::list<Entry>::iterator it);
  Shard& ShardFor(const ResponseCacheKey& key);

  const ResponseCacheOptions options_;
  size_t per_shard_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace recsys::gateway
