#include "gateway/response_cache.h"

#include <algorithm>

namespace recsys::gateway {

ResponseCache::ResponseCache(ResponseCacheOptions options) : options_(options) {
  const int shards = std::max(1, options_.shards);
  per_shard_ = options_.max_entries == 0
                   ? 0
                   : std::max<size_t>(1, (options_.max_entries + shards - 1) / shards);
  for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

ResponseCache::Shard& ResponseCache::ShardFor(const ResponseCacheKey& key) {
  // The fingerprint is already a well-mixed hash.
  return *shards_[(key.fingerprint ^ (key.fingerprint >> 29)) % shards_.size()];
}

bool ResponseCache::Lookup(const ResponseCacheKey& key, absl::Time now,
                           v1::RecommendResponse* out) {
  if (!enabled()) return false;
  Shard& s = ShardFor(key);
  absl::MutexLock lock(&s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) return false;
  if (it->second->expires <= now) {
    s.lru.erase(it->second);
    s.index.erase(it);
    return false;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  out->CopyFrom(it->second->answer);
  return true;
}

void ResponseCache::Insert(const ResponseCacheKey& key, absl::Time now,
                           const v1::RecommendResponse& answer) {
  if (!enabled()) return;
  Shard& s = ShardFor(key);
  absl::MutexLock lock(&s.mu);
  auto it = s.index.find(key);
  if (it != s.index.end()) {
    it->second->expires = now + options_.ttl;
    it->second->answer.CopyFrom(answer);
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  s.lru.push_front(Entry{key, now + options_.ttl, answer});
  s.index.emplace(key, s.lru.begin());
  while (s.lru.size() > per_shard_) {
    s.index.erase(s.lru.back().key);
    s.lru.pop_back();
  }
}

size_t ResponseCache::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    absl::MutexLock lock(&s->mu);
    n += s->lru.size();
  }
  return n;
}

}  // namespace recsys::gateway
