#include "gateway/redis_user_store.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bundle/model_bundle.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys::gateway {
namespace {

constexpr int kNumShards = 64;

// Append: KEYS events, seq[, idem]; ARGV encoded event, cap, key ttl (s).
// Returns {sequence, 1 if answered from the key}.
constexpr char kAppendScript[] = R"lua(
if #KEYS == 3 then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {tonumber(seen), 1} end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if #KEYS == 3 then redis.call('SET', KEYS[3], seq, 'EX', tonumber(ARGV[3])) end
return {seq, 0}
)lua";

// History: KEYS events, erased, erasures; ARGV count (>= 1).
// Returns {1 if erased, the last `count` events, length of the erasures list}.
constexpr char kHistoryScript[] = R"lua(
return {redis.call('EXISTS', KEYS[2]), redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1),
        redis.call('LLEN', KEYS[3])}
)lua";

// Erase: KEYS events, erased, seq, erasures; ARGV user id.
// Returns {sequence, events deleted, 1 if the user was erased before}.
constexpr char kEraseScript[] = R"lua(
local n = redis.call('LLEN', KEYS[1])
local before = redis.call('EXISTS', KEYS[2])
local seq = redis.call('INCR', KEYS[3])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], seq)
redis.call('RPUSH', KEYS[4], ARGV[1])
return {seq, n, before}
)lua";

std::string Sha1Hex(absl::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha1(), nullptr) != 1) {
    LOG(FATAL) << "EVP_Digest(SHA-1) failed";
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

// Bytes outside [A-Za-z0-9._-] as %XX: an escaped id holds no ':', '{', '}'.
std::string Escape(absl::string_view s) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// An event in the Redis list (version 1, 14 bytes + names):
//   u8 version = 1 | i64 timestamp_s LE | f32 weight LE | u8 event length |
//   event | item id (the rest)
constexpr uint8_t kEventVersion = 1;
constexpr size_t kEventHeader = 1 + 8 + 4 + 1;

std::string EncodeEvent(const UserEvent& e) {
  std::string out;
  out.reserve(kEventHeader + e.event.size() + e.item_id.size());
  out.push_back(static_cast<char>(kEventVersion));
  const auto ts = static_cast<uint64_t>(e.timestamp_s);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((ts >> (8 * i)) & 0xFF));
  uint32_t w = 0;
  std::memcpy(&w, &e.weight, sizeof w);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((w >> (8 * i)) & 0xFF));
  out.push_back(static_cast<char>(e.event.size()));
  out += e.event;
  out += e.item_id;
  return out;
}

bool DecodeEvent(absl::string_view in, UserEvent* e) {
  if (in.size() < kEventHeader + 1 || static_cast<uint8_t>(in[0]) != kEventVersion) return false;
  const auto byte = [&in](size_t i) { return static_cast<uint64_t>(static_cast<uint8_t>(in[i])); };
  uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts |= byte(1 + i) << (8 * i);
  uint32_t w = 0;
  for (int i = 0; i < 4; ++i) w |= static_cast<uint32_t>(byte(9 + i)) << (8 * i);
  const size_t event_len = byte(13);
  if (kEventHeader + event_len >= in.size()) return false;  // the item id must be non-empty
  e->timestamp_s = static_cast<int64_t>(ts);
  std::memcpy(&e->weight, &w, sizeof w);
  e->event = std::string(in.substr(kEventHeader, event_len));
  e->item_id = std::string(in.substr(kEventHeader + event_len));
  return true;
}

bool IsInteger(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_INTEGER; }

// The script's reply as an array of `n` elements, or the failure it stands for.
absl::Status CheckArray(const redisReply& r, size_t n) {
  if (r.type == REDIS_REPLY_ERROR) return RedisErrorStatus(absl::string_view(r.str, r.len));
  if (r.type != REDIS_REPLY_ARRAY || r.elements != n) {
    return absl::InternalError("redis: unexpected reply to a user-store script");
  }
  return absl::OkStatus();
}

}  // namespace

RedisUserStore::RedisUserStore(const RedisUserStoreOptions& options)
    : options_(options),
      own_metrics_(options.metrics == nullptr ? std::make_unique<UserStoreMetrics>(nullptr)
                                              : nullptr),
      metrics_(options.metrics != nullptr ? options.metrics : own_metrics_.get()),
      pool_([&] {
        RedisPoolOptions p = options.pool;
        p.metrics = metrics_;
        return p;
      }()),
      append_script_{kAppendScript, Sha1Hex(kAppendScript)},
      history_script_{kHistoryScript, Sha1Hex(kHistoryScript)},
      erase_script_{kEraseScript, Sha1Hex(kEraseScript)},
      shards_(new Shard[kNumShards]) {}

RedisUserStore::~RedisUserStore() = default;

absl::StatusOr<std::unique_ptr<RedisUserStore>> RedisUserStore::Open(
    const RedisUserStoreOptions& options) {
  if (options.pool.endpoint.host.empty()) return absl::InvalidArgumentError("no Redis host");
  if (options.pool.size < 1) return absl::InvalidArgumentError("Redis pool size must be >= 1");
  if (options.pool.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("Redis timeout must be positive");
  }
  if (options.max_events_per_user < 1) {
    return absl::InvalidArgumentError("max_events_per_user must be >= 1");
  }
  if (options.idempotency_ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError("idempotency_ttl must be at least 1s");
  }
  if (options.wait_replicas < 0) return absl::InvalidArgumentError("wait_replicas must be >= 0");
  if (options.key_prefix.empty() || options.key_prefix.find_first_of("{}") != std::string::npos) {
    return absl::InvalidArgumentError("key_prefix must be non-empty, without '{' or '}'");
  }
  std::unique_ptr<RedisUserStore> store(new RedisUserStore(options));
  ASSIGN_OR_RETURN(std::vector<RedisReplyPtr> replies,
                   store->pool_.Run({{"PING"}, {"LRANGE", store->GlobalKey("erasures"), "0", "-1"}},
                                    RedisPool::Retry::kIfStale));
  for (const RedisReplyPtr& r : replies) {
    if (r->type == REDIS_REPLY_ERROR) return RedisErrorStatus(absl::string_view(r->str, r->len));
  }
  const redisReply& erasures = *replies[1];
  if (erasures.type != REDIS_REPLY_ARRAY) {
    return absl::InternalError("redis: the erasures key is not a list");
  }
  for (size_t i = 0; i < erasures.elements; ++i) {
    const redisReply* user = erasures.element[i];
    if (user->type == REDIS_REPLY_STRING)
      store->MarkErased(absl::string_view(user->str, user->len));
  }
  store->erasures_seen_.store(static_cast<int64_t>(erasures.elements));
  LOG(INFO) << "user store: Redis at " << options.pool.endpoint.ToString() << " (pool "
            << options.pool.size << ", timeout " << options.pool.timeout << ", "
            << erasures.elements << " erased users)";
  return store;
}

std::string RedisUserStore::GlobalKey(absl::string_view name) const {
  return absl::StrCat(options_.key_prefix, ":", name);
}

std::string RedisUserStore::UserKey(absl::string_view user_id, absl::string_view part) const {
  return absl::StrCat(options_.key_prefix, ":{", Escape(user_id), "}:", part);
}

RedisUserStore::Shard& RedisUserStore::ShardFor(absl::string_view user_id) const {
  const size_t h = std::hash<std::string_view>{}(std::string_view(user_id.data(), user_id.size()));
  return shards_[h % kNumShards];
}

uint32_t RedisUserStore::Intern(const std::string& name) {
  auto [it, inserted] = name_index_.try_emplace(name, static_cast<uint32_t>(names_.size()));
  if (inserted) names_.push_back(name);
  return it->second;
}

void RedisUserStore::SeedFrom(const ModelBundle& bundle) {
  ForEachTrainingHistory(bundle, [this](absl::string_view user_id, std::vector<UserEvent> events) {
    Seed(user_id, std::move(events));
  });
}

void RedisUserStore::Seed(absl::string_view user_id, std::vector<UserEvent> events) {
  if (events.empty()) return;
  std::vector<SeedEvent> add;
  add.reserve(events.size());
  {
    absl::MutexLock lock(&names_mu_);
    for (const UserEvent& e : events) {
      add.push_back(SeedEvent{e.timestamp_s, Intern(e.item_id), Intern(e.event), e.weight});
    }
  }
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  if (shard.erased.contains(user_id)) return;
  auto [it, inserted] = shard.seeds.try_emplace(user_id);
  if (inserted) seeded_users_.fetch_add(1, std::memory_order_relaxed);
  std::vector<SeedEvent>& seeds = it->second;
  seeds.insert(seeds.end(), add.begin(), add.end());
  int64_t added = static_cast<int64_t>(add.size());
  if (seeds.size() > options_.max_events_per_user) {
    const size_t drop = seeds.size() - options_.max_events_per_user;
    seeds.erase(seeds.begin(), seeds.begin() + static_cast<ptrdiff_t>(drop));
    added -= static_cast<int64_t>(drop);
  }
  seeded_events_.fetch_add(added, std::memory_order_relaxed);
}

std::vector<UserEvent> RedisUserStore::SeedTail(absl::string_view user_id, size_t n) const {
  std::vector<SeedEvent> tail;
  {
    const Shard& shard = ShardFor(user_id);
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.seeds.find(user_id);
    if (it == shard.seeds.end() || n == 0) return {};
    const std::vector<SeedEvent>& seeds = it->second;
    const size_t k = std::min(n, seeds.size());
    tail.assign(seeds.end() - static_cast<ptrdiff_t>(k), seeds.end());
  }
  std::vector<UserEvent> out;
  out.reserve(tail.size());
  absl::ReaderMutexLock lock(&names_mu_);
  for (const SeedEvent& s : tail) {
    out.push_back(UserEvent{names_[s.item], s.timestamp_s, s.weight, names_[s.event]});
  }
  return out;
}

int64_t RedisUserStore::MarkErased(absl::string_view user_id) const {
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  shard.erased.emplace(user_id);
  auto it = shard.seeds.find(user_id);
  if (it == shard.seeds.end()) return 0;
  const auto dropped = static_cast<int64_t>(it->second.size());
  shard.seeds.erase(it);
  seeded_users_.fetch_sub(1, std::memory_order_relaxed);
  seeded_events_.fetch_sub(dropped, std::memory_order_relaxed);
  return dropped;
}

void RedisUserStore::SyncErasures(int64_t length) const {
  const int64_t seen = erasures_seen_.load();
  if (length == seen) return;
  // Shorter than what was read: Redis lost data (or was flushed). Read it
  // all again; users erased before stay erased here.
  const int64_t from = length < seen ? 0 : seen;
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_.Run(
      {{"LRANGE", GlobalKey("erasures"), absl::StrCat(from), "-1"}}, RedisPool::Retry::kIfStale);
  if (!replies.ok() || (*replies)[0]->type != REDIS_REPLY_ARRAY) return;  // a later read retries
  const redisReply& list = *(*replies)[0];
  for (size_t i = 0; i < list.elements; ++i) {
    const redisReply* user = list.element[i];
    if (user->type == REDIS_REPLY_STRING) MarkErased(absl::string_view(user->str, user->len));
  }
  // Concurrent syncs read the same entries and store the same figure (a
  // stale one only costs another sync).
  erasures_seen_.store(from + static_cast<int64_t>(list.elements));
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisUserStore::RunScript(
    const Script& script, const std::vector<std::string>& keys,
    const std::vector<std::string>& args, RedisPool::Retry retry,
    const std::vector<RedisPool::Command>& after) const {
  auto commands = [&](bool by_sha) {
    RedisPool::Command c = {by_sha ? "EVALSHA" : "EVAL", by_sha ? script.sha1 : script.text,
                            absl::StrCat(keys.size())};
    c.insert(c.end(), keys.begin(), keys.end());
    c.insert(c.end(), args.begin(), args.end());
    std::vector<RedisPool::Command> all = {std::move(c)};
    all.insert(all.end(), after.begin(), after.end());
    return all;
  };
  ASSIGN_OR_RETURN(std::vector<RedisReplyPtr> replies, pool_.Run(commands(true), retry));
  const redisReply& first = *replies[0];
  if (first.type == REDIS_REPLY_ERROR &&
      absl::StartsWith(absl::string_view(first.str, first.len), "NOSCRIPT")) {
    // Redis restarted (or its script cache was flushed): send the text once.
    ASSIGN_OR_RETURN(replies, pool_.Run(commands(false), retry));
  }
  return replies;
}

std::vector<RedisPool::Command> RedisUserStore::WaitCommand() const {
  if (options_.wait_replicas <= 0) return {};
  const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.pool.timeout / 2));
  return {{"WAIT", absl::StrCat(options_.wait_replicas), absl::StrCat(ms)}};
}

absl::Status RedisUserStore::CheckWait(const redisReply& reply, uint64_t seq) const {
  if (reply.type == REDIS_REPLY_ERROR)
    return RedisErrorStatus(absl::string_view(reply.str, reply.len));
  if (!IsInteger(&reply)) return absl::InternalError("redis: unexpected reply to WAIT");
  if (reply.integer >= options_.wait_replicas) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("redis: sequence ", seq, " is on the primary but only ", reply.integer, " of ",
                   options_.wait_replicas, " replicas acknowledged it within ",
                   std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.pool.timeout / 2)),
                   "ms; a retry with the same idempotency key stores nothing twice"));
}

absl::Status RedisUserStore::CallFailed(UserStoreOp op, absl::Time start,
                                        absl::Status status) const {
  errors_.fetch_add(1, std::memory_order_relaxed);
  metrics_->ObserveOp(op, absl::Now() - start, false);
  return status;
}

void RedisUserStore::CallSucceeded(UserStoreOp op, absl::Time start) const {
  metrics_->ObserveOp(op, absl::Now() - start, true);
}

std::vector<UserEvent> RedisUserStore::History(absl::string_view user_id, size_t max_events) const {
  return ReadHistory(user_id, max_events).events;
}

HistoryResult RedisUserStore::ReadHistory(absl::string_view user_id, size_t max_events) const {
  HistoryResult result;
  const size_t n = std::min(max_events, options_.max_events_per_user);
  if (n == 0) return result;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      RunScript(history_script_,
                {UserKey(user_id, "events"), UserKey(user_id, "erased"), GlobalKey("erasures")},
                {absl::StrCat(n)}, RedisPool::Retry::kIfStale);
  absl::Status status = replies.status();
  if (status.ok()) status = CheckArray(*(*replies)[0], 3);
  const redisReply* reply = status.ok() ? (*replies)[0].get() : nullptr;
  if (status.ok() &&
      (!IsInteger(reply->element[0]) || reply->element[1]->type != REDIS_REPLY_ARRAY ||
       !IsInteger(reply->element[2]))) {
    status = absl::InternalError("redis: unexpected reply to the history script");
  }
  if (!status.ok()) {
    (void)CallFailed(UserStoreOp::kHistory, start, status);
    degraded_reads_.fetch_add(1, std::memory_order_relaxed);
    metrics_->CountDegradedRead();
    result.events = SeedTail(user_id, n);
    result.degraded = true;
    result.note = std::string(status.message());
    return result;
  }
  CallSucceeded(UserStoreOp::kHistory, start);
  const bool erased = reply->element[0]->integer != 0;
  const redisReply& list = *reply->element[1];
  SyncErasures(reply->element[2]->integer);
  if (erased) MarkErased(user_id);
  std::vector<UserEvent> appended;
  appended.reserve(list.elements);
  for (size_t i = 0; i < list.elements; ++i) {
    const redisReply* item = list.element[i];
    UserEvent e;
    if (item->type == REDIS_REPLY_STRING &&
        DecodeEvent(absl::string_view(item->str, item->len), &e)) {
      appended.push_back(std::move(e));
    } else if (bad_events_.fetch_add(1, std::memory_order_relaxed) == 0) {
      LOG(WARNING) << "user store: skipped an undecodable event in Redis key "
                   << UserKey(user_id, "events") << " (further ones are only counted)";
    }
  }
  if (!erased && appended.size() < n) result.events = SeedTail(user_id, n - appended.size());
  result.events.insert(result.events.end(), std::make_move_iterator(appended.begin()),
                       std::make_move_iterator(appended.end()));
  return result;
}

absl::StatusOr<uint64_t> RedisUserStore::Append(absl::string_view user_id, UserEvent e) {
  return AppendOnce(user_id, std::move(e), "");
}

absl::StatusOr<uint64_t> RedisUserStore::AppendOnce(absl::string_view user_id, UserEvent e,
                                                    absl::string_view idempotency_key) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  if (e.item_id.empty()) return absl::InvalidArgumentError("empty item id");
  if (e.event.size() > 255) return absl::InvalidArgumentError("event name over 255 bytes");
  const absl::Time start = absl::Now();
  std::vector<std::string> keys = {UserKey(user_id, "events"), GlobalKey("seq")};
  if (!idempotency_key.empty()) {
    keys.push_back(UserKey(user_id, absl::StrCat("idem:", Escape(idempotency_key))));
  }
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = RunScript(
      append_script_, keys,
      {EncodeEvent(e), absl::StrCat(options_.max_events_per_user),
       absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options_.idempotency_ttl)))},
      // With a key a repeat stores nothing twice; without one it might.
      idempotency_key.empty() ? RedisPool::Retry::kNever : RedisPool::Retry::kIfStale,
      WaitCommand());
  if (!replies.ok()) return CallFailed(UserStoreOp::kAppend, start, replies.status());
  const redisReply& r = *(*replies)[0];
  if (absl::Status s = CheckArray(r, 2); !s.ok()) return CallFailed(UserStoreOp::kAppend, start, s);
  if (!IsInteger(r.element[0]) || !IsInteger(r.element[1]) || r.element[0]->integer <= 0) {
    return CallFailed(UserStoreOp::kAppend, start,
                      absl::InternalError("redis: unexpected reply to the append script"));
  }
  const auto seq = static_cast<uint64_t>(r.element[0]->integer);
  if (replies->size() > 1) {
    if (absl::Status s = CheckWait(*(*replies)[1], seq); !s.ok()) {
      return CallFailed(UserStoreOp::kAppend, start, s);
    }
  }
  CallSucceeded(UserStoreOp::kAppend, start);
  if (r.element[1]->integer != 0) {
    replays_.fetch_add(1, std::memory_order_relaxed);
    metrics_->CountIdempotentReplay();
  } else {
    appends_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t last = last_seq_.load(std::memory_order_relaxed);
  while (last < seq && !last_seq_.compare_exchange_weak(last, seq)) {
  }
  return seq;
}

absl::StatusOr<uint64_t> RedisUserStore::EraseUser(absl::string_view user_id, int64_t* erased) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      RunScript(erase_script_,
                {UserKey(user_id, "events"), UserKey(user_id, "erased"), GlobalKey("seq"),
                 GlobalKey("erasures")},
                {std::string(user_id)}, RedisPool::Retry::kNever, WaitCommand());
  if (!replies.ok()) return CallFailed(UserStoreOp::kErase, start, replies.status());
  const redisReply& r = *(*replies)[0];
  if (absl::Status s = CheckArray(r, 3); !s.ok()) return CallFailed(UserStoreOp::kErase, start, s);
  if (!IsInteger(r.element[0]) || !IsInteger(r.element[1]) || !IsInteger(r.element[2])) {
    return CallFailed(UserStoreOp::kErase, start,
                      absl::InternalError("redis: unexpected reply to the erase script"));
  }
  const auto seq = static_cast<uint64_t>(r.element[0]->integer);
  // The seed goes whatever WAIT says: the primary holds the erasure.
  const int64_t seeded = MarkErased(user_id);
  if (replies->size() > 1) {
    if (absl::Status s = CheckWait(*(*replies)[1], seq); !s.ok()) {
      return CallFailed(UserStoreOp::kErase, start, s);
    }
  }
  CallSucceeded(UserStoreOp::kErase, start);
  // Erased before (through another gateway this one had not heard from):
  // the seed this gateway still held was already erased.
  if (erased != nullptr)
    *erased = r.element[1]->integer + (r.element[2]->integer != 0 ? 0 : seeded);
  uint64_t last = last_seq_.load(std::memory_order_relaxed);
  while (last < seq && !last_seq_.compare_exchange_weak(last, seq)) {
  }
  return seq;
}

UserStoreStats RedisUserStore::stats() const {
  UserStoreStats s;
  s.users = seeded_users_.load(std::memory_order_relaxed);
  s.events = seeded_events_.load(std::memory_order_relaxed);
  s.seeded_events = static_cast<uint64_t>(std::max<int64_t>(0, s.events));
  s.appends = appends_.load(std::memory_order_relaxed);
  s.last_seq = last_seq_.load(std::memory_order_relaxed);
  s.idempotent_replays = replays_.load(std::memory_order_relaxed);
  const RedisPool::Stats p = pool_.stats();
  s.pool_size = p.size;
  s.pool_connected = p.connected;
  s.pool_reconnects = p.reconnects;
  s.store_errors = errors_.load(std::memory_order_relaxed) + bad_events_.load();
  s.degraded_reads = degraded_reads_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace recsys::gateway
