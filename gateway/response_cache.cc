#include "gateway/response_cache.h"

#include <algorithm>
#include <iterator>

namespace recsys::gateway {

ResponseCache::ResponseCache(ResponseCacheOptions options) : options_(options) {
  const int shards = std::max(1, options_.shards);
  per_shard_ = options_.max_bytes / static_cast<size_t>(shards);
  for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

ResponseCache::Shard& ResponseCache::ShardFor(const ResponseCacheKey& key) {
  // The fingerprint is already a well-mixed hash.
  return *shards_[(key.fingerprint ^ (key.fingerprint >> 29)) % shards_.size()];
}

size_t ResponseCache::Cost(const ResponseCacheKey& key, const v1::RecommendResponse& answer) {
  // The message's own accounting, the key, and the list node + index slot.
  constexpr size_t kOverhead = sizeof(Entry) + 64;
  return answer.SpaceUsedLong() + key.user_id.capacity() + kOverhead;
}

void ResponseCache::Erase(Shard& shard, std::list<Entry>::iterator it) {
  shard.bytes -= it->bytes;
  shard.index.erase(it->key);
  shard.lru.erase(it);
}

bool ResponseCache::Lookup(const ResponseCacheKey& key, absl::Time now,
                           v1::RecommendResponse* out) {
  if (!enabled()) return false;
  Shard& s = ShardFor(key);
  absl::MutexLock lock(&s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) return false;
  if (it->second->expires <= now) {
    Erase(s, it->second);
    return false;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  out->CopyFrom(it->second->answer);
  return true;
}

void ResponseCache::Insert(const ResponseCacheKey& key, absl::Time now,
                           const v1::RecommendResponse& answer) {
  if (!enabled()) return;
  const size_t cost = Cost(key, answer);
  Shard& s = ShardFor(key);
  absl::MutexLock lock(&s.mu);
  if (auto it = s.index.find(key); it != s.index.end()) Erase(s, it->second);
  if (cost > per_shard_) return;  // would evict everything else and still not fit
  s.lru.push_front(Entry{key, now + options_.ttl, answer, cost});
  s.index.emplace(key, s.lru.begin());
  s.bytes += cost;
  while (s.bytes > per_shard_) Erase(s, std::prev(s.lru.end()));
}

size_t ResponseCache::bytes() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    absl::MutexLock lock(&s->mu);
    n += s->bytes;
  }
  return n;
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
